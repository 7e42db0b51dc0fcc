using MeowRobot.Hosting.Systemd;

namespace MeowRobot.Services.Tests;

public sealed class SystemdNotifierTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private static SystemdNotifier For(Dictionary<string, string> env, int pid = 4242) =>
        new(k => env.TryGetValue(k, out var v) ? v : null, pid);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Each_message_arrives_as_one_datagram_on_the_notify_socket(bool abstractName)
    {
        using var listener = new NotifyListener(abstractName);
        using var notifier = For(new() { ["NOTIFY_SOCKET"] = listener.Address });

        Assert.True(notifier.IsEnabled);
        Assert.True(notifier.Ready("serving 8 envs"));
        Assert.True(notifier.Status("step 1200"));
        Assert.True(notifier.Watchdog());
        Assert.True(notifier.ExtendTimeout(TimeSpan.FromSeconds(3)));
        Assert.True(notifier.Stopping());

        Assert.Equal("READY=1\nSTATUS=serving 8 envs", listener.Receive(Wait));
        Assert.Equal("STATUS=step 1200", listener.Receive(Wait));
        Assert.Equal("WATCHDOG=1", listener.Receive(Wait));
        Assert.Equal("EXTEND_TIMEOUT_USEC=3000000", listener.Receive(Wait));
        Assert.Equal("STOPPING=1", listener.Receive(Wait));
    }

    [Fact]
    public async Task A_manager_that_does_not_read_never_stalls_the_sender_and_the_overflow_is_dropped()
    {
        // The kernel queues at most net.unix.max_dgram_qlen datagrams for a reader; past that a blocking send would wait
        // for ever (this once froze the trainer's training thread in a test whose listener stopped reading).
        var queue = int.Parse(File.ReadAllText("/proc/sys/net/unix/max_dgram_qlen").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        using var listener = new NotifyListener();
        using var notifier = For(new() { ["NOTIFY_SOCKET"] = listener.Address });

        var sending = Task.Run(() => Enumerable.Range(0, queue + 4).Select(i => notifier.Status($"step {i}")).ToArray());

        var sent = await sending.WaitAsync(TimeSpan.FromSeconds(30));   // TimeoutException: sd_notify blocked on a full queue
        // The kernel admits about max_dgram_qlen (Linux takes one more); every later one is dropped, not waited for.
        var accepted = sent.TakeWhile(ok => ok).Count();
        Assert.InRange(accepted, queue, queue + 1);
        Assert.All(sent.Skip(accepted), Assert.False);
        Assert.Equal("STATUS=step 0", listener.Receive(Wait));
        Assert.Equal(accepted - 1, listener.Drain().Count);
        Assert.True(notifier.Status("after"), "once the manager reads again, messages go through");
        Assert.Equal("STATUS=after", listener.Receive(Wait));
    }

    [Fact]
    public void A_status_with_line_breaks_stays_one_assignment()
    {
        using var listener = new NotifyListener();
        using var notifier = For(new() { ["NOTIFY_SOCKET"] = listener.Address });

        notifier.Status("bad\nREADY=1\r\nend");

        Assert.Equal("STATUS=bad READY=1 end", listener.Receive(Wait));
    }

    [Fact]
    public void Without_NOTIFY_SOCKET_nothing_is_sent_and_the_watchdog_is_off()
    {
        using var notifier = For(new() { ["WATCHDOG_USEC"] = "1000000" });

        Assert.False(notifier.IsEnabled);
        Assert.False(notifier.Ready());
        Assert.False(notifier.Watchdog());
    }

    [Fact]
    public void A_vanished_socket_makes_sends_fail_without_throwing()
    {
        string address;
        using (var listener = new NotifyListener()) address = listener.Address;
        using var notifier = For(new() { ["NOTIFY_SOCKET"] = address });

        Assert.False(notifier.Ready());
        Assert.False(notifier.Status("still here"));
    }

    [Theory]
    [InlineData("2000000", null, 2000.0)]
    [InlineData("2000000", "4242", 2000.0)]
    [InlineData("2000000", "1", null)]
    [InlineData("2000000", "pid", null)]
    [InlineData("0", null, null)]
    [InlineData("-5", null, null)]
    [InlineData("soon", null, null)]
    [InlineData(null, null, null)]
    public void The_watchdog_is_meant_for_this_process_only_when_WATCHDOG_PID_is_unset_or_ours(string? usec, string? pid, double? expectedMs)
    {
        var env = new Dictionary<string, string> { ["NOTIFY_SOCKET"] = "/nonexistent/notify" };
        if (usec is not null) env["WATCHDOG_USEC"] = usec;
        if (pid is not null) env["WATCHDOG_PID"] = pid;
        using var notifier = For(env, pid: 4242);

        Assert.Equal(expectedMs, notifier.WatchdogInterval?.TotalMilliseconds);
    }
}
