using System.CommandLine;
using System.Globalization;
using MeowRobot.Tasks;

namespace MeowRobot.Sim;

/// <summary>
/// `sim tasks [--models DIR]`: every task `sim serve --task` knows, with its observation and action sizes, action box,
/// episode length and randomisable parameters (default and range). MuJoCo tasks are sized from their MJCF model
/// (DIR/NAME.xml, e.g. --models ../shared/mujoco); without one they are listed by name.
/// </summary>
public static class TasksCommand
{
    public static Command Create()
    {
        var models = new Option<DirectoryInfo?>("--models") { Description = "folder of MJCF models NAME.xml for the MuJoCo tasks (e.g. ../shared/mujoco)" };
        var command = new Command("tasks", "List the tasks with their dimensions and parameters") { models };
        command.SetAction(parse => List(parse.GetValue(models)?.FullName, parse.InvocationConfiguration.Output));
        return command;
    }

    public static int List(string? modelsDir, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var inv = CultureInfo.InvariantCulture;
        foreach (var entry in TaskCatalog.All)
        {
            var model = entry.TakesModel && modelsDir is not null ? Path.Combine(modelsDir, entry.Name + ".xml") : null;
            output.WriteLine($"{entry.Name} — {entry.Summary}");
            if (entry.TakesModel && (model is null || !File.Exists(model)))
            {
                output.WriteLine(model is null
                    ? "  MuJoCo: serve with --model PATH.xml; list with --models DIR for its sizes and parameters"
                    : $"  MuJoCo: no model at {model}");
                continue;
            }
            try
            {
                using var task = TaskCatalog.Create(entry.Name, new TaskOptions(model));
                var s = task.Spec;
                string Box(float[] v) => "[" + string.Join(", ", v.Select(x => x.ToString("G4", inv))) + "]";
                output.WriteLine(string.Create(inv, $"  obs {s.ObsDim}, act {s.ActDim} in {Box(s.ActLow)}..{Box(s.ActHigh)}, episodes of {s.MaxEpisodeSteps} steps"));
                foreach (var p in task.Parameters)
                    output.WriteLine(string.Create(inv, $"  --param {p.Name}=X  default {p.Default:G6}, range [{p.Min:G6}, {p.Max:G6}]{(p.Integer ? ", whole numbers" : "")}"));
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or DllNotFoundException or IOException)
            {
                output.WriteLine($"  cannot load: {e.Message}");
            }
        }
        return 0;
    }
}
