"""The small two-phase elastic database configuration the database tests share."""

TINY_CONFIG = """
samples = 6
seed = {seed}
[variables]
"microstructure.volume_fraction" = [0.1, 0.3]
"materials.matrix.E" = [50.0, 150.0]
[microstructure]
generator = "circles"
radius = 0.1
shape = [16, 16]
[materials.matrix]
model = "linear_elastic"
E = 100.0
nu = 0.3
[materials.phase1]
model = "linear_elastic"
E = 500.0
nu = 0.2
[rom]
clusters = {{ matrix = 2, phase1 = 1 }}
[loading]
{loading}
"""


def tiny_config(seed: int, loading: str = "max_strain = 0.01\nsteps = 2") -> str:
    """The TOML text of the shared configuration with its ``seed`` and ``[loading]`` lines."""
    return TINY_CONFIG.format(seed=seed, loading=loading)
