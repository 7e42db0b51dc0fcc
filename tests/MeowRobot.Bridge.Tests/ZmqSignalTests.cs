using System.Runtime.InteropServices;
using MeowRobot.Bridge.Native;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Testing;

namespace MeowRobot.Bridge.Tests;

/// <summary>Signals interrupt blocking libzmq calls with EINTR (.NET installs handlers, e.g. for SIGCHLD); the binding
/// must retry rather than fail. A signal is aimed at the thread while it is asleep inside zmq_recv or zmq_poll.</summary>
public sealed partial class ZmqSignalTests : IDisposable
{
    private const int SIGCHLD = 17;

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "gettid")] private static partial int GetTid();
    [LibraryImport(NativeLibraries.Libc, EntryPoint = "getpid")] private static partial int GetPid();
    [LibraryImport(NativeLibraries.Libc, EntryPoint = "tgkill")] private static partial int TgKill(int tgid, int tid, int signal);

    static ZmqSignalTests() => NativeLibraries.Register(typeof(ZmqSignalTests).Assembly);

    private readonly ZmqContext _context = new();

    public void Dispose() => _context.Dispose();

    private static bool Sleeping(int tid)
    {
        // /proc/self/task/TID/stat: "tid (comm) S ..."; the state follows the last ')'
        string stat;
        try { stat = File.ReadAllText($"/proc/self/task/{tid}/stat"); }
        catch (IOException) { return false; } // the thread has ended
        return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('S');
    }

    [RequiresTheory(Requirement.LibZmq)]
    [InlineData(false)]
    [InlineData(true)]
    public void A_blocked_receive_or_poll_survives_signals_and_still_gets_its_message(bool poll)
    {
        if (!OperatingSystem.IsLinux()) return;
        using var ready = new ManualResetEventSlim();
        var tid = 0;
        string? endpoint = null;
        byte[]? received = null;
        Exception? failure = null;
        var worker = new Thread(() =>
        {
            try
            {
                using var pull = _context.CreateSocket(ZmqSocketType.Pull);
                pull.Bind("tcp://127.0.0.1:*");
                endpoint = pull.LastEndpoint;
                tid = GetTid();
                ready.Set();
                if (poll)
                {
                    using var poller = new ZmqPoller();
                    poller.Add(pull, ZmqPollEvents.In);
                    if (poller.Poll(Timeout.InfiniteTimeSpan) != 1) throw new InvalidOperationException("poll returned without an event");
                }
                received = pull.ReceiveFrame();
            }
            catch (Exception e) { failure = e; }
        });
        worker.Start();
        Assert.True(ready.Wait(TimeSpan.FromSeconds(10)));

        for (var i = 0; i < 3; i++)
        {
            Assert.True(SpinWait.SpinUntil(() => !worker.IsAlive || Sleeping(tid), TimeSpan.FromSeconds(10)), "the receiving thread never blocked");
            Assert.Null(failure); // without the EINTR retry: ZmqException "Interrupted system call"
            Assert.True(worker.IsAlive);
            Assert.Equal(0, TgKill(GetPid(), tid, SIGCHLD));
        }
        Assert.True(SpinWait.SpinUntil(() => !worker.IsAlive || Sleeping(tid), TimeSpan.FromSeconds(10)));
        Assert.Null(failure);

        using var push = _context.CreateSocket(ZmqSocketType.Push);
        push.Connect(endpoint!);
        push.Send("after the signals"u8);
        Assert.True(worker.Join(TimeSpan.FromSeconds(10)), "the receive never returned");
        Assert.Null(failure);
        Assert.Equal("after the signals"u8.ToArray(), received);
    }
}
