using Xunit;

using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MeowRobot.Testing;

/// <summary>Things outside the project that some tests need. A test that lacks one is skipped with a message naming it.</summary>
public enum Requirement
{
    /// <summary>At least one MEow golden case (<see cref="GoldenRoot.Meow"/>).</summary>
    GoldenVectors,
    /// <summary>At least one S2AC golden case (<see cref="GoldenRoot.S2ac"/>).</summary>
    S2acGoldenVectors,
    MuJoCoModels,
    MsgPackConformance,
    LibZmq,
    LibMuJoCo,
    Socat,
    PythonPeer,
    /// <summary>Debian's python3-onnx (the ONNX checker) under <see cref="Requirements.DebianPython"/>.</summary>
    PythonOnnx,
    SystemdAnalyze,
    /// <summary>Debian's python3-protobuf (the independent TensorBoard event decoder).</summary>
    PythonProtobuf,
    /// <summary>Debian's python3-numpy (the Python worker's --env example).</summary>
    PythonNumpy,
    /// <summary>rsvg-convert (librsvg2-bin): plots' PNGs.</summary>
    Rsvg,
    /// <summary>A Slurm cluster that answers at $SLURM_CONF (./meow test starts a one-node one: .ci/slurm).</summary>
    Slurm,
}

public static class Requirements
{
    /// <summary>Null when the requirement is met, else the reason to skip.</summary>
    public static string? Missing(Requirement r) => r switch
    {
        Requirement.GoldenVectors => GoldenRoot.Meow.Missing,
        Requirement.S2acGoldenVectors => GoldenRoot.S2ac.Missing,
        Requirement.MuJoCoModels => File.Exists(SharedMaterial.MuJoCoModel("hopper")) ? null : $"MJCF models missing: {SharedMaterial.MuJoCoModel("hopper")}",
        Requirement.MsgPackConformance => File.Exists(SharedMaterial.MsgPackConformanceFile) ? null : $"conformance suite missing: {SharedMaterial.MsgPackConformanceFile}",
        Requirement.LibZmq => CanLoad("libzmq.so.5") ? null : "libzmq.so.5 missing: apt-get install libzmq5",
        Requirement.LibMuJoCo => CanLoad("libmujoco.so.2.2.2") ? null : "libmujoco.so.2.2.2 missing: apt-get install libmujoco2.2.2",
        Requirement.Socat => OnPath("socat") ? null : "socat missing: apt-get install socat",
        Requirement.PythonPeer => PythonPeerReason.Value,
        Requirement.PythonOnnx => PythonOnnxReason.Value,
        Requirement.SystemdAnalyze => OnPath("systemd-analyze") ? null : "systemd-analyze missing: apt-get install systemd",
        Requirement.PythonProtobuf => PythonModule("google.protobuf", "python3-protobuf"),
        Requirement.PythonNumpy => PythonModule("numpy", "python3-numpy"),
        Requirement.Rsvg => OnPath("rsvg-convert") ? null : "rsvg-convert missing: apt-get install librsvg2-bin",
        Requirement.Slurm => SlurmReason.Value,
        _ => throw new ArgumentOutOfRangeException(nameof(r)),
    };

    /// <summary>The Python that has Debian's python3-zmq and python3-msgpack (a pyenv python on PATH usually lacks them).</summary>
    public const string DebianPython = "/usr/bin/python3";

    private static readonly Lazy<string?> PythonPeerReason = new(() => PythonImports("zmq, msgpack", "python3-zmq/python3-msgpack"));

    // Only a cluster named by SLURM_CONF: tests never submit to whatever /etc/slurm points at.
    private static readonly Lazy<string?> SlurmReason = new(() =>
    {
        var conf = Environment.GetEnvironmentVariable("SLURM_CONF");
        if (string.IsNullOrEmpty(conf)) return "no Slurm reachable: SLURM_CONF is not set (./meow test starts a one-node Slurm as root; by hand: .ci/slurm up)";
        if (!File.Exists(conf)) return $"no Slurm reachable: SLURM_CONF={conf} does not exist";
        if (!OnPath("scontrol") || !OnPath("sbatch") || !OnPath("squeue")) return "no Slurm reachable: Slurm's client commands are missing: apt-get install slurm-client";
        try
        {
            using var p = Process.Start(new ProcessStartInfo("scontrol", ["ping"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return output.Contains("is UP", StringComparison.Ordinal) ? null : $"no Slurm reachable: scontrol ping at SLURM_CONF={conf} says: {output.Trim()}";
        }
        catch (Exception e) { return "cannot run scontrol: " + e.Message; }
    });

    private static readonly Lazy<string?> PythonOnnxReason = new(() => PythonImports("onnx", "python3-onnx"));

    // Null when Debian's python imports the modules, else why not (naming the packages that provide them).
    private static string? PythonImports(string modules, string packages)
    {
        if (!File.Exists(DebianPython)) return $"{DebianPython} missing: apt-get install python3";
        try
        {
            using var p = Process.Start(new ProcessStartInfo(DebianPython, ["-c", "import " + modules]) { RedirectStandardError = true })!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? null : packages + " missing: " + err.Trim().Split('\n')[^1];
        }
        catch (Exception e) { return "cannot run " + DebianPython + ": " + e.Message; }
    }

    private static string? PythonModule(string module, string package)
    {
        if (!File.Exists(DebianPython)) return $"{DebianPython} missing: apt-get install python3";
        using var p = Process.Start(new ProcessStartInfo(DebianPython, ["-c", "import " + module]) { RedirectStandardError = true })!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? null : $"{package} missing (apt-get install {package}): " + err.Trim().Split('\n')[^1];
    }

    private static bool CanLoad(string file)
    {
        if (!NativeLibrary.TryLoad(file, out var h)) return false;
        NativeLibrary.Free(h);
        return true;
    }

    private static bool OnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, exe)));

    internal static string? FirstMissing(Requirement[] rs) => rs.Select(Missing).FirstOrDefault(m => m is not null);
}

/// <summary>A fact that is skipped, saying what is missing, when a requirement is not met.</summary>
public sealed class RequiresFactAttribute : FactAttribute
{
    public RequiresFactAttribute(params Requirement[] requirements)
    {
        if (Requirements.FirstMissing(requirements) is { } why) Skip = why;
    }
}

/// <summary>A theory that is skipped, saying what is missing, when a requirement is not met.</summary>
public sealed class RequiresTheoryAttribute : TheoryAttribute
{
    public RequiresTheoryAttribute(params Requirement[] requirements)
    {
        if (Requirements.FirstMissing(requirements) is { } why) Skip = why;
    }
}
