"""hvconform's pytest entry point: the plugins live in fixtures/ (see its __init__)."""

pytest_plugins = ["fixtures.options", "fixtures.targets", "fixtures.evidence",
                  "fixtures.reporting", "fixtures.profiles", "fixtures.bundle"]
