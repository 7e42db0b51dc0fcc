"""A Gymnasium-style env in plain numpy, for `meow_sim_worker.py --env examples.point_mass:make` (run from
bridge/python with Debian's /usr/bin/python3; needs only python3-numpy). A point mass on a plane is pushed toward a
goal: observation (x, y, goal x, goal y), action (vx, vy) in [-1, 1]², the mass moves 0.1·action per step, reward
−distance to the goal; the episode terminates within 0.05 of it.
"""
import numpy as np


class Box:
    """The part of gymnasium.spaces.Box the worker reads: shape, low, high."""

    def __init__(self, low, high):
        self.low, self.high = np.asarray(low, dtype=np.float32), np.asarray(high, dtype=np.float32)
        self.shape = self.low.shape


class PointMass:
    observation_space = Box([-2.0] * 4, [2.0] * 4)
    action_space = Box([-1.0, -1.0], [1.0, 1.0])
    max_episode_steps = 100
    # randomisable: how far one unit of action moves the mass (the worker range-checks values, then calls set_param)
    meow_params = {"gain": (1.0, 0.5, 2.0)}

    def __init__(self):
        self.rng = np.random.default_rng()
        self.gain = 1.0
        self.pos = np.zeros(2)
        self.goal = np.zeros(2)

    def set_param(self, name, value):
        setattr(self, name, float(value))

    def reset(self, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.pos = self.rng.uniform(-1.0, 1.0, size=2)
        self.goal = self.rng.uniform(-1.0, 1.0, size=2)
        return self._obs(), {}

    def step(self, action):
        self.pos = np.clip(self.pos + 0.1 * self.gain * np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0), -2.0, 2.0)
        distance = float(np.linalg.norm(self.pos - self.goal))
        return self._obs(), -distance, distance < 0.05, False, {}

    def _obs(self):
        return np.concatenate([self.pos, self.goal]).astype(np.float32)


def make():
    return PointMass()
