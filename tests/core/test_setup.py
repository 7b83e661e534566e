"""scripts/setup.sh without root: prints the exact apt command for what is missing and stops non-zero."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_setup_without_root_prints_apt_command():
    cmd = ["bash", os.path.join(ROOT, "scripts", "setup.sh"), "remine-no-such-package"]
    if os.geteuid() == 0:   # run as 'nobody' to see what a user without root gets
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    run = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
    assert run.returncode == 1
    assert "missing Debian packages: remine-no-such-package" in run.stderr
    assert ("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
            "remine-no-such-package") in run.stderr
