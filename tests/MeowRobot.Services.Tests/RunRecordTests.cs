using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MeowRobot.Testing;
using MeowRobot.Trainer.Reporting;
using MeowRobot.Trainer.Reporting.TensorBoard;
using Xunit.Abstractions;

namespace MeowRobot.Services.Tests;

/// <summary>One short `trainer learn` run whose records the tests below read.</summary>
public sealed class LearnRunFixture : IDisposable
{
    public LearnRunFixture()
    {
        Dir = Directory.CreateTempSubdirectory("meow-records-");
        RunDir = Path.Combine(Dir.FullName, "pendulum-run");
        Args = ["learn", "--task", "pendulum", "--steps", "800", "--seed", "5", "--learning-starts", "400", "--eval-every", "400",
            "--eval-episodes", "1", "--metrics-every", "200", "--quiet", "--run-dir", RunDir];
        (Code, Out, Err) = ServiceProcesses.Run("MeowRobot.Trainer", Args, new Dictionary<string, string>(), TimeSpan.FromMinutes(3));
    }

    public DirectoryInfo Dir { get; }
    public string RunDir { get; }
    public string[] Args { get; }
    public int Code { get; }
    public string Out { get; }
    public string Err { get; }

    public void Dispose() => Dir.Delete(recursive: true);
}

/// <summary>
/// Run records (RunRecord): the TensorBoard event file read back by an independent decoder (Debian's python3-protobuf
/// with the messages declared in tests/MeowRobot.Services.Tests/decode_tfevents.py, CRCs computed there), against the
/// run's metrics.csv; the config snapshot.
/// </summary>
public sealed class RunRecordTests(LearnRunFixture run, ITestOutputHelper output) : IClassFixture<LearnRunFixture>
{
    private static readonly string Decoder = Path.Combine(SharedMaterial.RepoRoot, "tests", "MeowRobot.Services.Tests", "decode_tfevents.py");

    internal static (int Code, string Out, string Err) Decode(params string[] files)
    {
        var info = new ProcessStartInfo(Requirements.DebianPython) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Decoder);
        foreach (var f in files) info.ArgumentList.Add(f);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), "the decoder hung");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    internal static List<Dictionary<string, string>> Csv(string path)
    {
        var lines = File.ReadAllLines(path);
        var columns = lines[0].Split(',');
        return [.. lines.Skip(1).Select(l => columns.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second))];
    }

    private static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    /// <summary>A float32 of the event against the CSV's 6 significant digits.</summary>
    private static void Close(double csv, double tensorboard, string what) =>
        Assert.True(Math.Abs(csv - tensorboard) <= 1e-5 * Math.Abs(csv) + 1e-6, $"{what}: csv {csv}, events {tensorboard}");

    [RequiresFact(Requirement.PythonProtobuf)]
    public void Trainer_learn_writes_events_an_independent_decoder_reads_with_the_values_of_metrics_csv_and_the_hyperparameters()
    {
        Assert.True(run.Code == 0, run.Out + run.Err);
        var events = Directory.GetFiles(run.RunDir, EventFile.FilePrefix + "*");
        Assert.Single(events);
        var (code, json, err) = Decode(events);
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(["brain.Event:2"], root.GetProperty("file_versions").EnumerateArray().Select(e => e.GetString()));
        var scalars = root.GetProperty("scalars").EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(a => (Step: a[0].GetInt64(), Value: a[1].GetDouble())).ToList());
        // What TensorBoard would show: every scalar series, decoded.
        foreach (var (tag, points) in scalars.OrderBy(p => p.Key, StringComparer.Ordinal))
            output.WriteLine($"{tag,-24} {string.Join("  ", points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Step}:{p.Value:G5}")))}");

        var rows = Csv(Path.Combine(run.RunDir, MetricsCsv.FileName));
        var evals = rows.Where(r => r["event"] == "eval").ToList();
        Assert.Equal(["400", "800"], evals.Select(r => r["env_steps"]));
        foreach (var (tag, column) in new[] { ("eval/return_mean", "eval_return_mean"), ("eval/return_std", "eval_return_std"), ("eval/length_mean", "eval_length_mean") })
        {
            Assert.Equal([400L, 800L], scalars[tag].Select(p => p.Step));
            foreach (var (row, point) in evals.Zip(scalars[tag])) Close(D(row[column]), point.Value, tag);
        }
        // Pendulum episodes are 200 steps: one per 200-step row, each the row's mean.
        var train = rows.Where(r => r["event"] == "train").ToList();
        Assert.Equal([200L, 400L, 600L, 800L], scalars["train/episode_return"].Select(p => p.Step));
        Assert.All(scalars["train/episode_length"], p => Assert.Equal(200, p.Value));
        foreach (var (row, point) in train.Zip(scalars["train/episode_return"])) Close(D(row["episode_return_mean"]), point.Value, "episode return");
        // Updates start after 400 env steps: losses and Q statistics at the rows after it, equal to the CSV's.
        foreach (var (tag, column) in new[] { ("losses/q_loss", "loss"), ("losses/grad_norm", "grad_norm"), ("values/q_mean", "mean_q"), ("values/td_target_mean", "mean_target") })
        {
            var withUpdates = train.Where(r => r[column].Length > 0).ToList();
            Assert.Equal(withUpdates.Select(r => long.Parse(r["env_steps"], CultureInfo.InvariantCulture)), scalars[tag].Select(p => p.Step));
            Assert.NotEmpty(withUpdates);
            foreach (var (row, point) in withUpdates.Zip(scalars[tag])) Close(D(row[column]), point.Value, tag);
        }
        foreach (var tag in new[] { "perf/updates_per_s", "perf/env_steps_per_s", "charts/alpha" }) Assert.Equal(train.Count, scalars[tag].Count);
        Assert.All(scalars["charts/alpha"], p => Assert.Equal(0.1, p.Value, 1e-7));

        // Hyperparameters: the preset's (alpha 0.1 for pendulum) with the command line's overrides, both as hparams records and as text.
        var hparams = root.GetProperty("hparams");
        Assert.Equal(0.1, hparams.GetProperty("alpha").GetDouble(), 1e-12);
        Assert.Equal(400, hparams.GetProperty("learning_starts").GetDouble());
        Assert.Equal(5, hparams.GetProperty("seed").GetDouble());
        Assert.True(hparams.GetProperty("layer_norm").GetBoolean());
        Assert.Equal(hparams.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal),
            root.GetProperty("hparam_infos").EnumerateArray().Select(i => i[0].GetString()!).Order(StringComparer.Ordinal));
        Assert.Contains("eval/return_mean", root.GetProperty("metric_tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("pendulum-run", root.GetProperty("group_name").GetString());
        Assert.Equal(1, root.GetProperty("session_end_status").GetInt32()); // STATUS_SUCCESS
        var text = root.GetProperty("texts").GetProperty("config").GetString()!;
        Assert.Contains("| alpha | 0.1 |", text, StringComparison.Ordinal);
        Assert.Contains("| learning_starts | 400 |", text, StringComparison.Ordinal);
    }

    [RequiresFact(Requirement.PythonProtobuf)]
    public void A_damaged_record_is_refused_by_the_decoder()
    {
        Assert.True(run.Code == 0, run.Out + run.Err);
        var original = File.ReadAllBytes(Directory.GetFiles(run.RunDir, EventFile.FilePrefix + "*").Single());
        var damaged = Path.Combine(run.Dir.FullName, "damaged.tfevents");
        var bytes = (byte[])original.Clone();
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(damaged, bytes);

        var (code, _, err) = Decode(damaged);

        Assert.Equal(1, code);
        Assert.Matches("bad (data|length) CRC at offset", err);
    }

    [RequiresFact(Requirement.Rsvg)]
    public void Trainer_plot_draws_the_run_as_svg_and_png_with_nice_ticks_a_std_band_markers_and_legends_outside_the_data()
    {
        Assert.True(run.Code == 0, run.Out + run.Err);
        var outDir = Path.Combine(run.Dir.FullName, "plot");
        var (code, stdout, err) = ServiceProcesses.Run("MeowRobot.Trainer", ["plot", run.RunDir, "--out", outDir], new Dictionary<string, string>());

        Assert.True(code == 0, stdout + err);
        var png = File.ReadAllBytes(Path.Combine(outDir, RunPlot.PngName));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        var svg = System.Xml.Linq.XDocument.Load(Path.Combine(outDir, RunPlot.SvgName));
        // The PNG is the SVG rasterised: its size is the SVG's.
        var root = svg.Root!;
        Assert.Equal((int.Parse(root.Attribute("width")!.Value, CultureInfo.InvariantCulture), int.Parse(root.Attribute("height")!.Value, CultureInfo.InvariantCulture)),
            (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20))));

        System.Xml.Linq.XNamespace ns = "http://www.w3.org/2000/svg";
        var texts = svg.Descendants(ns + "text").Select(t => (X: double.Parse(t.Attribute("x")?.Value ?? "NaN", CultureInfo.InvariantCulture), Text: t.Value)).ToList();
        // Three panels (return, loss, gradient norm), each with its legend; every legend entry right of the data area.
        var frames = svg.Descendants(ns + "rect").Where(r => r.Attribute("stroke")?.Value == "#888").ToList();
        Assert.Equal(3, frames.Count);
        var right = frames.Max(f => double.Parse(f.Attribute("x")!.Value, CultureInfo.InvariantCulture) + double.Parse(f.Attribute("width")!.Value, CultureInfo.InvariantCulture));
        foreach (var legend in new[] { "evaluation return (mean)", "± std over its episodes", "training episode return", "Q loss (mean per row)", "gradient norm" })
            Assert.True(texts.Single(t => t.Text == legend).X > right, legend + " lies over the data");
        // Tick labels are round numbers: integers, or at most one decimal here (no 4-significant-digit labels like −5.474).
        var ticks = texts.Where(t => System.Text.RegularExpressions.Regex.IsMatch(t.Text, "^[\u2212]?[0-9.]+k?$")).Select(t => t.Text).ToList();
        Assert.NotEmpty(ticks);
        Assert.All(ticks, t => Assert.Matches("^\u2212?[0-9]+([.][0-9])?k?$", t));
        Assert.Contains("800", ticks);
        // The evaluation: one marker per evaluation (2) over a ±std band.
        var polygons = svg.Descendants(ns + "polygon").ToList();
        Assert.Single(polygons);
        Assert.Equal(2, svg.Descendants(ns + "circle").Count(c => c.Attribute("fill")?.Value == "#1f5fa8" &&
            double.Parse(c.Attribute("cx")!.Value, CultureInfo.InvariantCulture) <= right));
    }

    [Fact]
    public void The_config_snapshot_has_the_command_line_the_resolved_hyperparameters_the_seed_and_the_code_version()
    {
        Assert.True(run.Code == 0, run.Out + run.Err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.RunDir, RunConfig.FileName)));
        var c = doc.RootElement;
        Assert.Equal("trainer learn", c.GetProperty("command").GetString());
        Assert.Equal(run.Args, c.GetProperty("command_line").EnumerateArray().Skip(1).Select(a => a.GetString()));
        Assert.Equal(5, c.GetProperty("seed").GetInt32());
        Assert.Equal(("pendulum", 3, 1), (c.GetProperty("task").GetProperty("name").GetString(), c.GetProperty("task").GetProperty("obs_dim").GetInt32(),
            c.GetProperty("task").GetProperty("act_dim").GetInt32()));
        var h = c.GetProperty("hyperparameters");
        // The preset's values (pendulum: alpha 0.1, tau 0.005) and the override (learning_starts), as short decimals.
        Assert.Equal(("0.1", "0.005", "400"), (h.GetProperty("alpha").GetRawText(), h.GetProperty("tau").GetRawText(), h.GetProperty("learning_starts").GetRawText()));
        // Built from this checkout: git describe's answer (the suite always runs from one; elsewhere it is null).
        if (Directory.Exists(Path.Combine(SharedMaterial.RepoRoot, ".git")) || File.Exists(Path.Combine(SharedMaterial.RepoRoot, ".git")))
            Assert.Matches("^[0-9a-z.\\-]+$", c.GetProperty("code_version").GetString() ?? "(null)");
    }
}
