using MeowRobot.Policy.Bundles;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;

namespace MeowRobot.Policy.Tests;

/// <summary>The MLP-actor runtime (SAC's actor, the amortized S2AC network) against a plain double-precision evaluation
/// of the files' tensors at every vector width, its allocation-free call, and the algorithms' policy files.</summary>
public sealed class MlpActorRuntimeTests
{
    public static TheoryData<int> Widths() => [4, 8, 16];

    private static PolicyFile Sac(int obs = 11, int act = 3, int seed = 1, bool normalised = true) => PolicyFile.Initialized(new PolicyMetadata
    {
        Algorithm = PolicyAlgorithm.Sac,
        ObsDim = obs,
        ActDim = act,
        ActionScale = new ActionScaling([.. Enumerable.Range(0, act).Select(j => -1f - j)], [.. Enumerable.Range(0, act).Select(j => 2f + j)]),
        ObsNorm = normalised ? new ObservationNormalization([.. Enumerable.Range(0, obs).Select(i => 0.1f * i)], [.. Enumerable.Range(0, obs).Select(i => 0.5f + i)]) : null,
    }, seed);

    private static PolicyFile Amortized(int obs = 11, int act = 3, int seed = 2) => PolicyFile.Initialized(new PolicyMetadata
    {
        Algorithm = PolicyAlgorithm.S2ac,
        ObsDim = obs,
        ActDim = act,
        S2ac = new S2acArchitecture { Actor = S2acActor.Amortized, Hidden = 32, ActLimit = 0.5 },
    }, seed);

    private static double[] Dense(PolicyFile f, MlpLayer l, double[] x, Func<double, double>? activation)
    {
        var w = f[l.Weight].Values;
        var b = f[l.Bias].Values;
        var y = new double[l.Out];
        for (var o = 0; o < l.Out; o++)
        {
            double sum = b[o];
            for (var i = 0; i < x.Length; i++) sum += w[o * l.In + i] * x[i];
            y[o] = activation is null ? sum : activation(sum);
        }
        return y;
    }

    private static double[] Normalised(PolicyFile f, float[] s) => f.Metadata.ObsNorm is { } n
        ? [.. s.Select((v, i) => Math.Clamp((v - n.Mean[i]) / Math.Sqrt(n.Var[i] + (double)n.Epsilon), -n.Clip, n.Clip))]
        : [.. s.Select(v => (double)v)];

    /// <summary>CleanRL: tanh(fc_mean(relu(fc2(relu(fc1(s)))))) · action_scale + action_bias.</summary>
    private static double[] SacAction(PolicyFile f, float[] s)
    {
        var net = SacLayout.Actor(f.Metadata);
        var h = Dense(f, net[1], Dense(f, net[0], Normalised(f, s), x => Math.Max(0, x)), x => Math.Max(0, x));
        var mean = Dense(f, net[2], h, null);
        return [.. mean.Select((u, j) => Math.Tanh(u) * f[SacLayout.ActionScale].Values[j] + f[SacLayout.ActionBias].Values[j])];
    }

    /// <summary>act_limit · tanh(f(s, ξ = 0)), f with ELU hidden layers over concat(s, ξ).</summary>
    private static double[] AmortizedAction(PolicyFile f, float[] s)
    {
        var net = S2acLayout.AmortizedActor(f.Metadata);
        double[] x = [.. Normalised(f, s), .. new double[f.Metadata.ActDim]];
        for (var k = 0; k < net.Count; k++) x = Dense(f, net[k], x, k < net.Count - 1 ? v => v >= 0 ? v : Math.Exp(v) - 1 : null);
        return [.. x.Select(u => f.Metadata.S2ac.ActLimit * Math.Tanh(u))];
    }

    private static float[] Observation(int obs, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, obs).Select(_ => (float)(rng.NextDouble() * 6 - 3))];
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void The_sac_action_is_tanh_of_the_mean_scaled_into_the_box(int lanes)
    {
        var file = Sac();
        var runtime = PolicyRuntime.Create(file, lanes);
        Assert.IsType<MlpActorRuntime>(runtime);
        var action = new float[3];
        for (var k = 0; k < 20; k++)
        {
            var s = Observation(11, k);
            runtime.Act(s, action);
            var expected = SacAction(file, s);
            for (var j = 0; j < 3; j++) Assert.Equal(expected[j], action[j], 1e-5);
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void The_amortized_s2ac_action_is_the_network_at_the_mean_noise(int lanes)
    {
        var file = Amortized();
        var runtime = PolicyRuntime.Create(file, lanes);
        var action = new float[3];
        for (var k = 0; k < 20; k++)
        {
            var s = Observation(11, 100 + k);
            runtime.Act(s, action);
            var expected = AmortizedAction(file, s);
            for (var j = 0; j < 3; j++) Assert.Equal(expected[j], action[j], 1e-5);
        }
    }

    [Fact]
    public void A_call_allocates_nothing()
    {
        foreach (var runtime in new[] { PolicyRuntime.Create(Sac()), PolicyRuntime.Create(Amortized()) })
        {
            var s = Observation(11, 7);
            var action = new float[3];
            for (var i = 0; i < 100; i++) runtime.Act(s, action);
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 10_000; i++) runtime.Act(s, action);
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    [Fact]
    public void A_clone_computes_the_same_actions_with_its_own_scratch()
    {
        var runtime = PolicyRuntime.Create(Sac());
        var clone = runtime.Clone();
        float[] a = new float[3], b = new float[3];
        runtime.Act(Observation(11, 1), a);
        clone.Act(Observation(11, 1), b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Sac_files_round_trip_and_their_action_buffers_must_match_the_box()
    {
        var file = Sac(normalised: false);
        var bytes = file.ToBytes();
        var back = PolicyFile.Parse(bytes);
        Assert.Equal(PolicyAlgorithm.Sac, back.Metadata.Algorithm);
        Assert.Equal(bytes, back.ToBytes());
        Assert.Equal([1.5f, 2.5f, 3.5f], back[SacLayout.ActionScale].Values);
        Assert.Equal([0.5f, 0.5f, 0.5f], back[SacLayout.ActionBias].Values);
        Assert.Contains(back.Metadata.ToEntries(), kv => kv.Key == "sac.action.low");
        Assert.DoesNotContain(back.Metadata.ToEntries(), kv => kv.Key.StartsWith("meow.", StringComparison.Ordinal));

        var wrong = file.Tensors.Select(t => t.Name == SacLayout.ActionBias ? t with { Values = [0f, 0f, 0f] } : t);
        var e = Assert.Throws<PolicyFileException>(() => new PolicyFile(file.Metadata, wrong));
        Assert.Equal(PolicyFileError.InvalidActionBuffers, e.Error);
        var negative = file.Tensors.Select(t => t.Name == SacLayout.ActionScale ? t with { Values = [1f, -1f, 1f] } : t);
        Assert.Equal(PolicyFileError.InvalidActionBuffers,
            Assert.Throws<PolicyFileException>(() => new PolicyFile(file.Metadata with { ActionScale = null }, negative)).Error);
    }

    [Fact]
    public void A_file_names_exactly_one_algorithm_this_build_knows()
    {
        var entries = Sac().Metadata.ToEntries().ToList();
        var two = entries.Append(new("meow.format", "1")).ToList();
        Assert.Equal(PolicyFileError.InvalidMetadata, Assert.Throws<PolicyFileException>(() => PolicyMetadata.FromEntries(two)).Error);
        var unknown = entries.Where(kv => kv.Key != "sac.format").Append(new("td3.format", "1")).ToList();
        var e = Assert.Throws<PolicyFileException>(() => PolicyMetadata.FromEntries(unknown));
        Assert.Equal(PolicyFileError.UnknownAlgorithm, e.Error);
        Assert.Contains("td3", e.Message, StringComparison.Ordinal);
        var none = entries.Where(kv => kv.Key != "sac.format").ToList();
        Assert.Equal(PolicyFileError.MissingMetadata, Assert.Throws<PolicyFileException>(() => PolicyMetadata.FromEntries(none)).Error);
    }

    private static string S2acGoldenRoot =>
        Environment.GetEnvironmentVariable("S2AC_GOLDEN_DIR") is { Length: > 0 } dir ? dir : Path.Combine(RepoRoot(), "..", "shared", "golden", "s2ac");

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MeowRobot.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("MeowRobot.sln not found above the test binaries");
    }

    [Fact]
    public void The_sampling_networks_depth_is_written_read_and_checked()
    {
        var amortized = new PolicyMetadata
        {
            Algorithm = PolicyAlgorithm.S2ac, ObsDim = 4, ActDim = 2,
            S2ac = new S2acArchitecture { Hidden = 8, Actor = S2acActor.Amortized, SamplerLayers = 1 },
        };
        var file = PolicyFile.Parse(PolicyFile.Initialized(amortized, seed: 3).ToBytes());
        Assert.Equal(1, file.Metadata.S2ac.SamplerLayers);
        Assert.Equal(["pi.f.net.0.weight", "pi.f.net.2.weight"], file.Tensors.Where(t => t.Name.StartsWith("pi.f.", StringComparison.Ordinal) && t.Name.EndsWith("weight", StringComparison.Ordinal)).Select(t => t.Name));
        Assert.Equal(2, MlpActorRuntime.Create(file).ActDim);
        // Only an amortized file has a sampling network to describe.
        var svgd = amortized with { S2ac = amortized.S2ac with { Actor = S2acActor.Svgd } };
        var e = Assert.Throws<PolicyFileException>(svgd.Validate);
        Assert.Equal(PolicyFileError.InvalidMetadata, e.Error);
        Assert.Contains("sampler_layers", e.Message, StringComparison.Ordinal);
        Assert.Equal(PolicyFileError.InvalidMetadata, Assert.Throws<PolicyFileException>((amortized with { S2ac = amortized.S2ac with { SamplerLayers = 0 } }).Validate).Error);
    }

    [Fact]
    public void The_s2ac_golden_weights_load_as_they_are_and_the_svgd_actor_is_refused_by_the_runtime()
    {
        Assert.True(Directory.Exists(S2acGoldenRoot), $"no S2AC golden root at {S2acGoldenRoot}");
        var cases = Directory.GetDirectories(S2acGoldenRoot).Where(d => File.Exists(Path.Combine(d, "weights.safetensors"))).ToArray();
        Assert.NotEmpty(cases);
        foreach (var dir in cases)
        {
            var path = Path.Combine(dir, "weights.safetensors");
            var file = PolicyFile.Load(path);
            Assert.Equal(PolicyAlgorithm.S2ac, file.Metadata.Algorithm);
            Assert.Equal(S2acActor.Svgd, file.Metadata.S2ac.Actor);
            Assert.Equal(File.ReadAllBytes(path), file.ToBytes()); // metadata and tensors written back exactly
            Assert.Throws<UnsupportedPolicyException>(() => PolicyRuntime.Create(file));
            var bundle = PolicyBundle.Create(1, file, "multigoal", DateTimeOffset.UnixEpoch);
            Assert.Equal("s2ac", bundle.Algorithm);
            var verdict = bundle.Verify(new PolicyIdentity(file.Metadata.Task ?? "multigoal", file.Metadata.ObsDim, file.Metadata.ActDim, "r"), 0);
            Assert.Equal(BundleVerdict.UnsupportedAlgorithm, verdict.Verdict);
        }
    }

    [Fact]
    public void Bundles_carry_their_algorithm_and_format_1_bundles_are_meow()
    {
        var sac = PolicyBundle.Create(3, Sac(), "hopper", DateTimeOffset.UnixEpoch);
        var decoded = PolicyBundle.Decode(sac.ToMessagePack());
        Assert.Equal("sac", decoded.Algorithm);
        var robot = new PolicyIdentity("hopper", 11, 3, "r");
        var accepted = decoded.Verify(robot, 0);
        Assert.Equal(BundleVerdict.Accepted, accepted.Verdict);
        Assert.IsType<MlpActorRuntime>(accepted.Runtime);

        // A bundle that says meow but carries a SAC file is not what it claims.
        Assert.Equal(BundleVerdict.MalformedFile, (sac with { Algorithm = "meow" }).Verify(robot, 0).Verdict);
        Assert.Equal(BundleVerdict.UnsupportedAlgorithm, (sac with { Algorithm = "td3" }).Verify(robot, 0).Verdict);
    }
}
