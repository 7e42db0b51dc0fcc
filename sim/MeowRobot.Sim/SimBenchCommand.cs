using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MeowRobot.Bridge.Sim;
using MeowRobot.Tasks;

namespace MeowRobot.Sim;

/// <summary>
/// `sim bench`: the bridge's cost, measured side by side. For each transport and worker count it starts in-process sim
/// workers (each on its own thread and socket, as a separate process would have), steps them through the
/// <see cref="VectorEnvClient"/>, and steps the same envs in-process with <see cref="LocalVectorEnv"/>; it prints
/// step round-trip latency (median, p99), env-steps/s, and the overhead against in-process stepping. --step-cost-us
/// adds busy work to every env step, standing in for a heavier simulator than the pendulum.
/// </summary>
public static class SimBenchCommand
{
    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = "task to step", DefaultValueFactory = _ => "pendulum" };
        var envs = ListOption("--envs", "envs per worker", [1, 8], v => int.Parse(v, CultureInfo.InvariantCulture));
        var workers = ListOption("--workers", "worker counts", [1, 2, 4], v => int.Parse(v, CultureInfo.InvariantCulture));
        var transports = ListOption("--transport", "transports (tcp, ipc)", ["tcp", "ipc"], v => v is "tcp" or "ipc" ? v : throw new FormatException($"unknown transport '{v}'"));
        var steps = new Option<int>("--steps") { Description = "measured steps per configuration", DefaultValueFactory = _ => 5000 };
        var model = new Option<string?>("--model") { Description = "MJCF model file, for the MuJoCo tasks" };
        var cost = new Option<double>("--step-cost-us") { Description = "extra busy work per env step, in µs (0: the task alone)", DefaultValueFactory = _ => 0 };
        var command = new Command("bench", "Measure sim protocol round-trip latency, env-steps/s and overhead against in-process stepping")
        {
            task, model, envs, workers, transports, steps, cost,
        };
        command.SetAction(parse => Run(parse.GetValue(task)!, new TaskOptions(parse.GetValue(model)), parse.GetValue(envs)!, parse.GetValue(workers)!, parse.GetValue(transports)!,
            parse.GetValue(steps), parse.GetValue(cost), parse.InvocationConfiguration.Output));
        return command;
    }

    /// <summary>An option taking a comma-separated list ("--workers 1,2,4").</summary>
    private static Option<T[]> ListOption<T>(string name, string description, T[] defaults, Func<string, T> parse) => new(name)
    {
        Description = description + " (comma-separated list)",
        DefaultValueFactory = _ => defaults,
        CustomParser = r =>
        {
            try
            {
                return r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries)).Select(parse).ToArray();
            }
            catch (FormatException e)
            {
                r.AddError($"{name}: {e.Message}");
                return [];
            }
        },
    };

    private static int Run(string task, TaskOptions taskOptions, int[] envCounts, int[] workerCounts, string[] transports, int steps, double costUs, TextWriter output)
    {
        output.WriteLine($"task {task}, best of {Repetitions} × {steps} steps per row, extra cost {costUs} µs per env step, {Environment.ProcessorCount} cores");
        output.WriteLine("| transport | workers × envs | step round trip median (µs) | p99 (µs) | env-steps/s | in-process step median (µs) | in-process env-steps/s | overhead | allocated B/step |");
        output.WriteLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        var dir = Directory.CreateTempSubdirectory("meow-bench-").FullName;
        try
        {
            foreach (var transport in transports)
            {
                foreach (var k in workerCounts)
                {
                    foreach (var n in envCounts)
                        output.WriteLine(Row(task, taskOptions, transport, k, n, steps, costUs, dir));
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        return 0;
    }

    private static string Row(string task, TaskOptions taskOptions, string transport, int k, int n, int steps, double costUs, string dir)
    {
        ISimTask Make() => costUs > 0 ? new CostlyTask(TaskCatalog.Create(task, taskOptions), costUs) : TaskCatalog.Create(task, taskOptions);
        var services = Enumerable.Range(0, k).Select(i => new SimService(new LocalVectorEnv(Make, n, 1000 * i))).ToArray();
        var workers = services.Select((s, i) => SimWorker.Start(s, transport == "ipc" ? $"ipc://{dir}/w{i}.sock" : "tcp://127.0.0.1:*")).ToArray();
        try
        {
            using var client = new VectorEnvClient(workers.Select(w => w.Endpoint).ToArray());
            using var local = new LocalVectorEnv(Make, k * n);
            // Rates from median step times, and the best of a few interleaved repetitions: on a shared machine means
            // (and single runs) are dominated by other people's bursts.
            double[] remote = [], inProcess = [];
            var allocatedPerStep = 0.0;
            for (var r = 0; r < Repetitions; r++)
            {
                var a = Measure(client, steps);
                allocatedPerStep = LastAllocatedPerStep;
                if (r == 0 || Percentile(a, 0.5) < Percentile(remote, 0.5)) remote = a;
                var b = Measure(local, steps);
                if (r == 0 || Percentile(b, 0.5) < Percentile(inProcess, 0.5)) inProcess = b;
            }
            var median = Percentile(remote, 0.5);
            var localMedian = Percentile(inProcess, 0.5);
            return string.Create(CultureInfo.InvariantCulture,
                $"| {transport} | {k} × {n} | {median:F1} | {Percentile(remote, 0.99):F1} | {k * n / median * 1e6:F0} | {localMedian:F2} | {k * n / localMedian * 1e6:G3} | {(median / localMedian - 1) * 100:+0;-0}% | {allocatedPerStep:F0} |");
        }
        finally
        {
            foreach (var w in workers) w.Dispose();
            foreach (var s in services) s.Dispose();
        }
    }

    private const int Repetitions = 3;

    /// <summary>Bytes allocated per step by every thread of the process (client and workers) in the last <see cref="Measure"/>.</summary>
    private static double LastAllocatedPerStep { get; set; }

    private static double Percentile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * q))];

    /// <summary>Steps with fixed random actions; returns the per-step times in µs, sorted.</summary>
    private static double[] Measure(IVectorEnv env, int steps)
    {
        var batch = new VectorBatch(env.NumEnvs, env.Spec.ObsDim);
        var rng = new Rng(7);
        var actions = new float[env.NumEnvs * env.Spec.ActDim];
        for (var i = 0; i < actions.Length; i++)
        {
            var d = i % env.Spec.ActDim;
            actions[i] = (float)rng.Uniform(env.Spec.ActLow[d], env.Spec.ActHigh[d]);
        }
        env.Reset(batch);
        for (var i = 0; i < Math.Max(100, steps / 10); i++) env.Step(actions, batch); // warm-up: JIT, connections, caches
        var latencies = new double[steps];
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < steps; i++)
        {
            var t = Stopwatch.GetTimestamp();
            env.Step(actions, batch);
            latencies[i] = (Stopwatch.GetTimestamp() - t) * 1e6 / Stopwatch.Frequency; // raw ticks: TimeSpan rounds to 0.1 µs
        }
        LastAllocatedPerStep = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)steps;
        Array.Sort(latencies);
        return latencies;
    }

    /// <summary>A task with extra busy work per step (a spin, not a sleep: it occupies a core as real physics would).</summary>
    private sealed class CostlyTask(ISimTask inner, double costUs) : ISimTask
    {
        private readonly long costTicks = (long)(costUs * Stopwatch.Frequency / 1e6);

        public TaskSpec Spec => inner.Spec;
        public IReadOnlyList<TaskParameter> Parameters => inner.Parameters;
        public double GetParameter(string name) => inner.GetParameter(name);
        public void SetParameter(string name, double value) => inner.SetParameter(name, value);
        public void Reset(int? seed, Span<float> obs) => inner.Reset(seed, obs);

        public (float Reward, bool Terminated) Step(ReadOnlySpan<float> action, Span<float> obs)
        {
            var until = Stopwatch.GetTimestamp() + costTicks;
            while (Stopwatch.GetTimestamp() < until) Thread.SpinWait(10);
            return inner.Step(action, obs);
        }

        public void Dispose() => inner.Dispose();
    }
}
