using MeowRobot.Tasks;
using MeowRobot.Tasks.MuJoCo;
using MeowRobot.Testing;

namespace MeowRobot.Sim.Tests;

public class MuJoCoTaskTests
{
    public static TheoryData<string, int, int> Tasks => new()
    {
        // name, Gymnasium v4 observation size, action size
        { "hopper", 11, 3 },
        { "walker2d", 17, 6 },
        { "half_cheetah", 17, 6 },
        { "ant", 27, 8 },
        { "humanoid", 376, 17 },
        { "inverted_pendulum", 4, 1 },
        { "reacher", 11, 2 },
    };

    internal static MuJoCoTask Make(string name) => (MuJoCoTask)TaskCatalog.Create(name, new TaskOptions(SharedMaterial.MuJoCoModel(name)));

    [RequiresTheory(Requirement.MuJoCoModels, Requirement.LibMuJoCo)]
    [MemberData(nameof(Tasks))]
    public void Each_model_loads_with_the_gymnasium_v4_dimensions(string name, int obsDim, int actDim)
    {
        using var task = Make(name);
        Assert.Equal(obsDim, task.Spec.ObsDim);
        Assert.Equal(actDim, task.Spec.ActDim);
        var obs = new float[obsDim];
        task.Reset(1, obs);
        Assert.All(obs, x => Assert.True(float.IsFinite(x)));
        var (reward, _) = task.Step(new float[actDim], obs);
        Assert.True(float.IsFinite(reward));
    }

    [RequiresTheory(Requirement.MuJoCoModels, Requirement.LibMuJoCo)]
    [MemberData(nameof(Tasks))]
    public void Same_seed_gives_the_same_episode_and_another_seed_does_not(string name, int obsDim, int actDim)
    {
        using var a = Make(name);
        using var b = Make(name);
        using var c = Make(name);
        float[] oa = new float[obsDim], ob = new float[obsDim], oc = new float[obsDim];
        a.Reset(7, oa);
        b.Reset(7, ob);
        c.Reset(8, oc);
        Assert.Equal(oa, ob);
        Assert.NotEqual(oa, oc);
        var act = new float[actDim];
        for (var t = 0; t < 30; t++)
        {
            for (var i = 0; i < actDim; i++) act[i] = 0.5f * MathF.Sin(t + i);
            var ra = a.Step(act, oa);
            var rb = b.Step(act, ob);
            Assert.Equal(ra, rb);
            Assert.Equal(oa, ob);
        }
    }

    [RequiresFact(Requirement.MuJoCoModels, Requirement.LibMuJoCo)]
    public void Hopper_reward_is_forward_velocity_plus_healthy_reward_minus_control_cost()
    {
        using var task = (PlanarRunner)Make("hopper");
        var obs = new float[11];
        task.Reset(3, obs);
        var x0 = task.Sim.Qpos[0];
        float[] u = [0.5f, -0.25f, 1.0f];
        var (reward, terminated) = task.Step(u, obs);
        var dt = 0.002 * 4; // hopper.xml timestep × v4 frame skip
        var expected = (task.Sim.Qpos[0] - x0) / dt + 1.0 - 1e-3 * (0.25 + 0.0625 + 1.0);
        Assert.Equal(expected, reward, 4);
        Assert.False(terminated);
        // The observation is [qpos[1:], clip(qvel, ±10)].
        Assert.Equal((float)task.Sim.Qpos[1], obs[0]);
        Assert.Equal((float)Math.Clamp(task.Sim.Qvel[0], -10, 10), obs[5]);
    }

    [RequiresTheory(Requirement.MuJoCoModels, Requirement.LibMuJoCo)]
    [InlineData(1.25, 0.0, false)] // upright
    [InlineData(0.5, 0.0, true)]   // fallen: z ≤ 0.7
    [InlineData(1.25, 0.3, true)]  // tilted: |angle| ≥ 0.2
    public void Hopper_terminates_outside_its_healthy_ranges(double z, double angle, bool terminated)
    {
        using var task = (PlanarRunner)Make("hopper");
        var obs = new float[11];
        task.Reset(0, obs);
        task.Sim.Qpos.Clear();
        task.Sim.Qvel.Clear();
        task.Sim.Qpos[1] = z;
        task.Sim.Qpos[2] = angle;
        task.Sim.Forward();
        Assert.Equal(!terminated, task.IsHealthy());
    }

    [RequiresFact(Requirement.MuJoCoModels, Requirement.LibMuJoCo)]
    public void Inverted_pendulum_ends_when_the_pole_passes_point_two_radians()
    {
        using var task = Make("inverted_pendulum");
        var obs = new float[4];
        task.Reset(0, obs);
        task.Sim.Qpos[1] = 0.35;
        task.Sim.Forward();
        var (reward, terminated) = task.Step([0f], obs);
        Assert.Equal(1f, reward);
        Assert.True(terminated);
    }

    [RequiresFact(Requirement.MuJoCoModels, Requirement.LibMuJoCo)]
    public void Humanoid_reward_uses_the_centre_of_mass_velocity()
    {
        using var task = (Humanoid)Make("humanoid");
        var obs = new float[376];
        task.Reset(5, obs);
        var before = task.MassCenterX();
        var u = new float[17];
        var (reward, _) = task.Step(u, obs);
        Assert.Equal(1.25 * (task.MassCenterX() - before) / (0.003 * 5) + 5.0, reward, 3);
    }

    [RequiresFact(Requirement.MuJoCoModels, Requirement.LibMuJoCo)]
    public void Randomisation_changes_the_physics_and_setting_it_back_restores_it()
    {
        using var nominal = Make("half_cheetah");
        using var randomised = Make("half_cheetah");
        var trajectory = (MuJoCoTask t) =>
        {
            var obs = new float[17];
            t.Reset(11, obs);
            var act = new float[6];
            for (var s = 0; s < 40; s++)
            {
                for (var i = 0; i < 6; i++) act[i] = MathF.Cos(s * 0.3f + i);
                t.Step(act, obs);
            }
            return obs;
        };
        var reference = trajectory(nominal);
        foreach (var name in new[] { MuJoCoTask.BodyMassScaleName, MuJoCoTask.FrictionScaleName, MuJoCoTask.GearScaleName, MuJoCoTask.JointDampingScaleName })
        {
            randomised.SetParameter(name, 2.0);
            Assert.NotEqual(reference, trajectory(randomised));
            randomised.SetParameter(name, 1.0);
            Assert.Equal(reference, trajectory(randomised));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => randomised.SetParameter(MuJoCoTask.BodyMassScaleName, 100));
    }

    [RequiresFact(Requirement.MuJoCoModels, Requirement.LibMuJoCo)]
    public void Mass_scale_scales_every_body_mass_and_inertia()
    {
        using var task = Make("ant");
        var mass = task.Sim.BodyMass.ToArray();
        var inertia = task.Sim.BodyInertia.ToArray();
        task.SetParameter(MuJoCoTask.BodyMassScaleName, 1.5);
        task.Reset(0, new float[27]);
        for (var b = 0; b < mass.Length; b++) Assert.Equal(mass[b] * 1.5, task.Sim.BodyMass[b], 12);
        for (var i = 0; i < inertia.Length; i++) Assert.Equal(inertia[i] * 1.5, task.Sim.BodyInertia[i], 12);
    }

    [RequiresFact(Requirement.LibMuJoCo)]
    public void A_broken_model_fails_with_mujocos_message()
    {
        var dir = Directory.CreateTempSubdirectory("meow-mj-");
        try
        {
            var bad = Path.Combine(dir.FullName, "bad.xml");
            File.WriteAllText(bad, "<mujoco><worldbody><body><geom type='nonsense'/></body></worldbody></mujoco>");
            var e = Assert.Throws<MuJoCoException>(() => MjSimulation.Load(bad));
            Assert.Contains("bad.xml", e.Message);
            Assert.Throws<FileNotFoundException>(() => MjSimulation.Load(Path.Combine(dir.FullName, "absent.xml")));
        }
        finally { dir.Delete(true); }
    }

    [RequiresFact(Requirement.MuJoCoModels, Requirement.LibMuJoCo)]
    public void Unknown_body_names_are_refused()
    {
        using var sim = MjSimulation.Load(SharedMaterial.MuJoCoModel("ant"));
        Assert.True(sim.BodyId("torso") > 0);
        Assert.Throws<MuJoCoException>(() => sim.BodyId("no_such_body"));
    }

    [RequiresTheory(Requirement.MuJoCoModels, Requirement.LibMuJoCo)]
    [InlineData("walker2d", "half_cheetah", "'thigh'")]
    [InlineData("half_cheetah", "walker2d", "'bthigh'")]
    [InlineData("hopper", "walker2d", null)] // sizes already differ: refused before the bodies are looked at
    public void A_planar_runner_given_a_model_of_the_same_sizes_from_another_task_is_refused(string task, string model, string? missingBody)
    {
        var e = Assert.Throws<MuJoCoException>(() => TaskCatalog.Create(task, new TaskOptions(SharedMaterial.MuJoCoModel(model))));
        Assert.Contains(task + ":", e.Message, StringComparison.Ordinal);
        if (missingBody is not null)
        {
            Assert.Contains(missingBody, e.Message, StringComparison.Ordinal);
            Assert.Contains("another task's model", e.Message, StringComparison.Ordinal);
        }
    }
}
