using MeowRobot.Tensors.Modules;
using MeowRobot.Tensors.Optim;

namespace MeowRobot.Tensors.Tests;

public class ShareStateTests
{
    private static Mlp Net(ulong seed, int hidden = 8) => new([4, hidden, 2], new Rng(seed), new MlpOptions { LayerNorm = true, Dropout = 0.1f });

    [Fact]
    public void A_replica_sees_every_write_to_the_source_values_and_keeps_its_own_gradients()
    {
        var source = Net(1);
        var replica = Net(2);
        replica.ShareStateWith(source);
        Assert.Equal(source.StateDict(), replica.StateDict());

        // Written through the optimiser, LoadStateDict and CopyStateFrom: all three write into the shared arrays.
        var parameters = source.Parameters();
        var tape = new Tape();
        var x = tape.Input(new float[] { 1, 2, 3, 4, -1, 0, 1, 2 }, 2, 4);
        tape.Backward(tape.Sum(source.Forward(tape, x)));
        new Adam(parameters, lr: 0.1).Step();
        Assert.Equal(source.StateDict(), replica.StateDict());
        source.LoadStateDict(Net(3).StateDict());
        Assert.Equal(Net(3).StateDict(), replica.StateDict());
        source.CopyStateFrom(Net(4));
        Assert.Equal(Net(4).StateDict(), replica.StateDict());

        Assert.All(replica.Parameters(), p => Assert.True(p.Grad.IsEmpty)); // the source's backward left the replica's alone
    }

    [Fact]
    public void Modules_of_another_shape_cannot_share()
    {
        var e = Assert.Throws<ArgumentException>(() => Net(1, hidden: 8).ShareStateWith(Net(1, hidden: 9)));
        Assert.Contains("net.0.weight", e.Message);
    }
}
