"""Packaging: the stage folders at the repository root install as ``dyad.<stage>``.

The repository keeps the design card's layout (generator/, retarget/, sim/, training/, bench/,
ros2_ws/ at the root) while the installed names live under one ``dyad`` namespace, so Dyad
never claims generic top-level names such as ``sim`` or ``training`` in a user's environment.
"""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
STAGES = {
    "dyad": "dyad",
    "dyad.generator": "generator",
    "dyad.retarget": "retarget",
    "dyad.sim": "sim",
    "dyad.training": "training",
    "dyad.bench": "bench",
    "dyad.ros2": "ros2_ws",
}

packages, package_dir = [], {}
for name, folder in STAGES.items():
    package_dir[name] = folder
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(where=folder)]

setup(
    packages=packages,
    package_dir=package_dir,
    include_package_data=True,
    package_data={"": ["*.yaml", "*.json", "*.pt", "*.xml", "*.txt"],
                  "dyad.ros2": ["params/*.yaml"]},
    # The ament_python layout, so `ros2 run dyad generator_node` and `ros2 launch dyad
    # dyad.launch.py` work from a colcon workspace (or with this prefix on AMENT_PREFIX_PATH).
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/dyad"]),
        ("share/dyad", ["package.xml"]),
        ("share/dyad/launch", sorted(str(p.relative_to(ROOT))
                                     for p in (ROOT / "launch").glob("*.launch.py"))),
        ("share/dyad/params", ["ros2_ws/params/dyad.yaml"]),
        ("lib/dyad", sorted(str(p.relative_to(ROOT))
                            for p in (ROOT / "ros2_ws" / "scripts").iterdir())),
    ],
)
