using System.CommandLine;
using System.Globalization;
using MeowRobot.Policy.Files;
using MeowRobot.Trainer.Export.Onnx;

namespace MeowRobot.Trainer.Export;

/// <summary>
/// <c>./meow trainer policy export --weights W --format onnx --output P.onnx</c>: writes the policy file's deterministic
/// policy as an ONNX model (<see cref="PolicyExport"/>: raw observations in, scaled actions out). Exit 0 when written,
/// 2 when the policy file cannot be read or exported or the output cannot be written (nothing is left half-written).
/// </summary>
public static class PolicyExportCommand
{
    /// <summary>Adds <c>export</c> under the <c>policy</c> command.</summary>
    public static void AddTo(Command policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var weights = new Option<FileInfo>("--weights") { Description = "policy file (safetensors with its algorithm's metadata)", Required = true };
        var format = new Option<string>("--format") { Description = "export format: onnx (opset 17)", DefaultValueFactory = _ => "onnx" };
        format.AcceptOnlyFromAmong("onnx");
        var output = new Option<FileInfo>("--output") { Description = "where to write the model (e.g. policy.onnx)", Required = true };
        var command = new Command("export", "Write a policy file's deterministic policy as an ONNX model (observation normalisation and action scaling included)");
        command.Options.Add(weights);
        command.Options.Add(format);
        command.Options.Add(output);
        command.SetAction(parse =>
        {
            var path = parse.GetValue(output)!.FullName;
            var tmp = path + ".tmp-" + Environment.ProcessId;
            try
            {
                var file = PolicyFile.Load(parse.GetValue(weights)!.FullName);
                var bytes = PolicyExport.ToOnnx(file);
                File.WriteAllBytes(tmp, bytes);
                File.Move(tmp, path, overwrite: true);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"policy export: {path}: ONNX opset {OnnxGraph.Opset}, {PolicyExport.ObservationInput} [batch, {file.Metadata.ObsDim}] → {PolicyExport.ActionOutput} [batch, {file.Metadata.ActDim}], {bytes.Length} bytes"));
                return 0;
            }
            catch (Exception e) when (e is PolicyFileException or NotSupportedException or IOException or UnauthorizedAccessException)
            {
                File.Delete(tmp);
                Console.Error.WriteLine($"policy export: {e.Message}");
                return 2;
            }
        });
        policy.Subcommands.Add(command);
    }
}
