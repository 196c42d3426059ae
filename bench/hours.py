#!/usr/bin/env python3
"""What the calling-hours policy costs `callform validate` and `callform plan`.

Writes 10,000 tasks (xfyeta and Volcengine, half each) that all dial differently (start
minute, day, length and windows vary, so no two share a judgement), some outside the
preset's hours, then times validate and plan with the preset and with the policy's rules
off: the median of 9 runs each, wall clock and CPU (user + system).

    cargo build --release && python3 bench/hours.py [N] [path/to/callform]
"""
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
BIN = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    os.environ.get("CARGO_TARGET_DIR", "target"), "release", "callform")


def write(root):
    random.seed(1)
    tasks = os.path.join(root, "tasks")
    os.makedirs(tasks)
    for i in range(N):
        day, months, minute = 4 + i % 20, 1 + i % 3, i % 60
        if i % 2 == 0:
            window = random.choice(['"09:00:00-12:00:00"', '"13:30:00-20:00:00"', '"19:00:00-22:00:00"'])
            text = f"""name: t{i}
vendor: xfyeta
callees: {{numbers: ["137{i:08d}"]}}
spec:
  task_name: xf-{i}
  line_num: ["055169101407"]
  robot_id: "11"
  time_range: [{window}, "07:{minute:02d}:00-08:30:00"]
  time_begin: 2027-01-{day:02d} 09:{minute:02d}
  time_end: 2027-0{1 + months}-28 20:00
"""
        else:
            text = f"""name: t{i}
vendor: volcengine
callees: {{numbers: ["137{i:08d}"]}}
spec:
  name: v-{i}
  resource: r
  number_pool_no: NP1
  start_time: 2027-01-{day:02d} 09:{minute:02d}
  end_time: 2027-0{1 + months}-28 18:00
  concurrency: 1
  forbid_time_list: [{{times: ["00:00-08:{minute:02d}", "21:00-23:59"], weekdays: [1, 2, 3, 4, 5, 6, 7]}}]
"""
        with open(os.path.join(tasks, f"t{i}.yaml"), "w") as f:
            f.write(text)
    return tasks


def median_run(cmd, n=9):
    wall, cpu = [], []
    for _ in range(n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    wall.sort()
    cpu.sort()
    return wall[n // 2], cpu[n // 2]


def main():
    with tempfile.TemporaryDirectory() as root:
        tasks = write(root)
        project = os.path.join(root, "callform.yaml")
        for name, policy in [
            ("preset", ""),
            ("all day", "policy: {hours: {default: [\"00:00-24:00\"]}}\n"),
            ("rules off", "policy: {rules: {calling_hours: off, consent: off}}\n"),
        ]:
            with open(project, "w") as f:
                f.write("timezone: Asia/Shanghai\n" + policy)
            for command in ["validate", "plan"]:
                w, c = median_run([BIN, command, tasks])
                print(f"{N} tasks, {name:9} {command:8} {w:.3f} s wall, {c:.3f} s cpu")


main()
