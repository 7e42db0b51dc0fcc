using MeowRobot.Trainer.Export.Onnx;
using MeowRobot.Policy.Files;

namespace MeowRobot.Trainer.Export;

/// <summary>
/// One algorithm's deterministic action as ONNX nodes: from the (already normalised) observation [batch, S] to the
/// action in the tanh box [−1, 1]^A. <see cref="PolicyExport"/> adds what every algorithm shares around it (the
/// observation input and its normalisation, action scaling, the output, the model's metadata), so a new algorithm is one
/// more implementation listed in <see cref="PolicyExport.Graphs"/>.
/// </summary>
public interface IPolicyGraph
{
    /// <summary>Whether this builder knows the policy file's algorithm and architecture.</summary>
    bool Handles(PolicyFile policy);

    /// <summary>Adds the nodes and returns the name of the value [batch, A] in [−1, 1].</summary>
    string DeterministicAction(OnnxGraph graph, PolicyFile policy, string observation);
}
