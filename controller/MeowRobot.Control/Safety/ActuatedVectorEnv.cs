using MeowRobot.Bridge.Sim;

namespace MeowRobot.Control.Safety;

/// <summary>
/// An <see cref="IVectorEnv"/> whose actions pass through the robot's actuator model (<see cref="ActuatorModel"/>, one
/// actuator per env) before they reach the simulation: what the trainer and <c>policy eval</c> step when the robot's
/// limits are configured. Episode ends and resets do not reset the actuators, as on the robot.
/// </summary>
public sealed class ActuatedVectorEnv : IVectorEnv
{
    private readonly IVectorEnv _inner;
    private readonly Actuator[] _actuators;
    private readonly float[] _applied;

    /// <param name="inner">The simulation (owned: disposed with this env).</param>
    public ActuatedVectorEnv(IVectorEnv inner, ActuatorModel model)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(model);
        _inner = inner;
        Model = model;
        _actuators = Enumerable.Range(0, inner.NumEnvs).Select(_ => model.CreateActuator(inner.Spec)).ToArray();
        _applied = new float[inner.NumEnvs * inner.Spec.ActDim];
    }

    public ActuatorModel Model { get; }
    public IVectorEnv Inner => _inner;
    public TaskSpec Spec => _inner.Spec;
    public int NumEnvs => _inner.NumEnvs;

    public IReadOnlyList<ParameterDistribution> Randomisation => _inner.Randomisation;

    public void SetRandomisation(IReadOnlyList<ParameterDistribution> distributions) => _inner.SetRandomisation(distributions);

    public void Reset(VectorBatch into, IReadOnlyList<int>? seeds = null, IReadOnlyDictionary<string, double>? parameters = null) =>
        _inner.Reset(into, seeds, parameters);

    public void Step(ReadOnlySpan<float> actions, VectorBatch into)
    {
        VectorEnvArguments.CheckActions(this, actions);
        var a = Spec.ActDim;
        for (var i = 0; i < _actuators.Length; i++)
            _actuators[i].Apply(actions.Slice(i * a, a), _applied.AsSpan(i * a, a));
        _inner.Step(_applied, into);
    }

    public void Dispose() => _inner.Dispose();
}
