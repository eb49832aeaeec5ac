#!/usr/bin/env python3
"""Execute the book's chapter notebooks many times in a row and report every stall.

Usage: python tools/stress_execute.py [-n RUNS] [--timeout S] [--stall-after S] [NOTEBOOK ...]

Each round executes every notebook (default: the chapters in _toc.yml, in book order) once,
each in a fresh kernel, with nbclient and a short per-cell timeout -- the same sequence of
consecutive kernels as `make book`. The kernel environment is the book build's
(MODGROW_NO_COMPUTE=1, inline matplotlib backend), so nothing trains. Like the book build,
it installs tools/nbclient_widget_fix.py; --unpatched leaves nbclient as it is, to show the
stall that fix removes.

A *stall* is any of:
  - a cell that hits the per-cell timeout (--timeout),
  - a kernel that does not start within --startup-timeout,
  - any phase (kernel start, one cell, kernel shutdown) that takes longer than --stall-after
    seconds even if it then completes: a hang that ends by itself must not pass silently.
Other failures (a cell raising, a dead kernel) are reported as errors.

On a cell timeout the script tells what the kernel was doing: its CPU use (busy or idle),
the state of its threads, a Python stack dump of every kernel thread (faulthandler on
SIGUSR1, installed in the kernel at start-up), which IOPub messages of the stalled request
had arrived, and whether the kernel still answers a kernel_info_request on the control
channel.

Exit status: 0 when no stall and no error happened, 1 otherwise. --json FILE writes every
execution's timings.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The kernel environment of `make book` (see the Makefile): stored results only, and the inline
# matplotlib backend (a kernel that inherits MPLBACKEND=Agg shows no figures).
KERNEL_ENV = {
    "MODGROW_NO_COMPUTE": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


def toc_notebooks() -> list[Path]:
    """The chapter notebooks in the order _toc.yml lists them (the order `make book` runs)."""
    paths = []
    for line in (ROOT / "_toc.yml").read_text().splitlines():
        m = re.match(r"\s*-?\s*(?:root|file):\s*(\S+)", line)
        if m:
            p = ROOT / m.group(1)
            p = p if p.suffix else p.with_suffix(".ipynb")
            if p.suffix == ".ipynb" and p.exists():
                paths.append(p)
    return paths


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


def _threads(pid: int) -> list[str]:
    out = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        try:
            comm = (task / "comm").read_text().strip()
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
            wchan = (task / "wchan").read_text().strip() if (task / "wchan").exists() else "?"
        except OSError:
            continue
        out.append(f"{task.name} {comm} state={state} wchan={wchan}")
    return out


def make_client_class():
    from nbclient import NotebookClient

    class StressClient(NotebookClient):
        """NotebookClient that records per-phase timings and diagnoses a cell timeout."""

        def __init__(self, *a, dump_file: str | None = None, **kw):
            super().__init__(*a, **kw)
            self.dump_file = dump_file
            self.t0 = time.monotonic()
            self.marks: list[tuple[str, int | None, float]] = []
            self.iopub_seen: dict[int, list[str]] = {}
            self.diagnosis: list[str] = []
            self.on_notebook_start = lambda **k: self._mark("ready")
            self.on_cell_execute = lambda **k: self._mark("cell_start", k["cell_index"])
            self.on_cell_executed = lambda **k: self._mark("cell_done", k["cell_index"])

        def _mark(self, what, index=None):
            self.marks.append((what, index, time.monotonic() - self.t0))

        def process_message(self, msg, cell, cell_index):
            t = msg["msg_type"]
            if t == "status":
                t = f"status:{msg['content'].get('execution_state')}"
            self.iopub_seen.setdefault(cell_index, []).append(t)
            return super().process_message(msg, cell, cell_index)

        @property
        def kernel_pid(self) -> int | None:
            proc = getattr(getattr(self.km, "provisioner", None), "process", None)
            return getattr(proc, "pid", None)

        async def _async_handle_timeout(self, timeout, cell=None):
            try:
                self.diagnosis = await self._diagnose(cell)
            except Exception as e:  # diagnosis must never hide the timeout itself
                self.diagnosis = [f"diagnosis failed: {type(e).__name__}: {e}"]
            return await super()._async_handle_timeout(timeout, cell)

        async def _diagnose(self, cell) -> list[str]:
            lines = []
            pid = self.kernel_pid
            idx = next((i for i, c in enumerate(self.nb.cells) if c is cell), None)
            seen = self.iopub_seen.get(idx, []) if idx is not None else []
            lines.append(f"IOPub messages of the stalled request: {seen or 'none'}")
            if pid:
                a = _cpu_ticks(pid)
                await asyncio.sleep(1.0)
                b = _cpu_ticks(pid)
                busy = None if a is None or b is None else (b - a) / os.sysconf("SC_CLK_TCK")
                lines.append(f"kernel pid {pid}: CPU {busy if busy is None else f'{busy:.2f}'} s "
                             f"in 1 s ({'busy' if busy and busy > 0.2 else 'idle'})")
                lines += ["  thread " + t for t in _threads(pid)]
            # Does the kernel still answer, on the control channel (its own thread)?
            try:
                msg = self.kc.session.msg("kernel_info_request")
                self.kc.control_channel.send(msg)
                reply = await asyncio.wait_for(self.kc.control_channel.get_msg(timeout=5), 6)
                lines.append(f"control channel answers: {reply['msg_type']}")
            except Exception as e:
                lines.append(f"control channel does not answer: {type(e).__name__} {e}")
            if pid and self.dump_file:
                try:
                    os.kill(pid, signal.SIGUSR1)
                    await asyncio.sleep(1.0)
                    dump = Path(self.dump_file).read_text()
                    lines.append("Python stacks of the kernel (faulthandler):")
                    lines += ["  " + s for s in dump.splitlines()]
                except OSError as e:
                    lines.append(f"no stack dump: {e}")
            return lines

    return StressClient


def phases(marks, total):
    """(startup, [(cell_index, seconds)], shutdown) from the recorded marks."""
    ready = next((t for w, _, t in marks if w == "ready"), None)
    cells, start = [], {}
    last = ready
    for w, i, t in marks:
        if w == "cell_start":
            start[i] = t
        elif w == "cell_done" and i in start:
            cells.append((i, t - start[i]))
            last = t
    shutdown = None if last is None else total - last
    return ready, cells, shutdown


def kernel_side(cell) -> str:
    """When the kernel itself stamped the request's messages (nbclient's record_timing), as
    seconds after the kernel announced `busy`: tells a kernel that was slow to answer from an
    answer that reached the client late."""
    from datetime import datetime
    ex = cell.get("metadata", {}).get("execution", {})
    try:
        t0 = datetime.fromisoformat(ex["iopub.status.busy"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return "no kernel timestamps"
    parts = []
    for key in ("iopub.execute_input", "shell.execute_reply", "iopub.status.idle"):
        if key in ex:
            t = datetime.fromisoformat(ex[key].replace("Z", "+00:00"))
            parts.append(f"{key.split('.', 1)[1]} +{(t - t0).total_seconds():.2f} s")
    return "kernel stamped: " + ", ".join(parts)


def run_one(path: Path, args, Client) -> dict:
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    fd, dump_file = tempfile.mkstemp(prefix="stress-stacks-", suffix=".txt")
    os.close(fd)
    # Python stack dump of every kernel thread on SIGUSR1 (read back on a cell timeout).
    setup = (f"import faulthandler as _fh, signal as _sig; "
             f"_fh.register(_sig.SIGUSR1, file=open({dump_file!r}, 'w'), all_threads=True)")
    client = Client(nb, timeout=args.timeout, startup_timeout=args.startup_timeout,
                    kernel_name="python3", dump_file=dump_file,
                    extra_arguments=[f"--IPKernelApp.exec_lines={setup}"],
                    resources={"metadata": {"path": str(path.parent)}})
    status, detail = "ok", ""
    try:
        client.execute()
    except CellTimeoutError as e:
        status, detail = "TIMEOUT", str(e).strip().splitlines()[0]
    except DeadKernelError as e:
        status, detail = "DEAD", str(e)
    except CellExecutionError as e:
        status, detail = "ERROR", str(e).strip().splitlines()[-1][:300]
    except RuntimeError as e:  # e.g. "Kernel didn't respond in N seconds" at start-up
        status, detail = "STARTUP" if "respond" in str(e) or "Kernel" in str(e) else "ERROR", str(e)
    except Exception as e:
        status, detail = "ERROR", f"{type(e).__name__}: {e}"
    finally:
        Path(dump_file).unlink(missing_ok=True)
    if hasattr(client, "_async_cleanup_kernel_future"):
        # nbclient traps SIGINT/SIGTERM while a notebook runs (it shuts the kernel down and
        # carries on); a stress run should stop instead.
        status, detail = "INTERRUPTED", "SIGINT/SIGTERM received"
    total = time.monotonic() - client.t0
    ready, cells, shutdown = phases(client.marks, total)
    slow = []
    if ready is not None and ready > args.stall_after:
        slow.append(f"kernel start-up took {ready:.1f} s")
    slow += [f"cell {i} took {s:.1f} s ({kernel_side(nb.cells[i])})"
             for i, s in cells if s > args.stall_after]
    if status == "ok" and shutdown is not None and shutdown > args.stall_after:
        slow.append(f"kernel shutdown took {shutdown:.1f} s")
    if status == "ok" and slow:
        status, detail = "SLOW", "; ".join(slow)
    return {"notebook": path.name, "status": status, "detail": detail,
            "total_s": round(total, 2), "startup_s": ready and round(ready, 2),
            "shutdown_s": shutdown and round(shutdown, 2),
            "cells_s": {i: round(s, 2) for i, s in cells},
            "diagnosis": client.diagnosis}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path,
                    help="notebooks to execute (default: the chapters of _toc.yml, in order)")
    ap.add_argument("-n", "--runs", type=int, default=20, help="rounds (default 20)")
    ap.add_argument("--timeout", type=int, default=60,
                    help="per-cell timeout in seconds (default 60)")
    ap.add_argument("--startup-timeout", type=int, default=60,
                    help="kernel start-up timeout in seconds (default 60)")
    ap.add_argument("--stall-after", type=float, default=30.0,
                    help="a start-up, cell or shutdown slower than this counts as a stall "
                         "(default 30 s; a chapter cell takes under 3 s with stored results)")
    ap.add_argument("--stop-on-stall", action="store_true", help="stop at the first stall")
    ap.add_argument("--unpatched", action="store_true",
                    help="do not install tools/nbclient_widget_fix.py (reproduce the stall)")
    ap.add_argument("--json", type=Path, help="write every execution's timings here")
    args = ap.parse_args(argv)

    os.environ.update(KERNEL_ENV)
    notebooks = [p.resolve() for p in args.notebooks] or toc_notebooks()
    if not notebooks:
        print("stress_execute: no notebooks found", file=sys.stderr)
        return 2
    if not args.unpatched:
        sys.path.insert(0, str(ROOT / "tools"))
        import nbclient_widget_fix
        nbclient_widget_fix.apply()
    Client = make_client_class()
    print(f"stress_execute: {args.runs} round(s) x {len(notebooks)} notebook(s) "
          f"({', '.join(p.name for p in notebooks)}); per-cell timeout {args.timeout} s, "
          f"stall if any phase > {args.stall_after:g} s; OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}; nbclient widget fix "
          f"{'NOT installed' if args.unpatched else 'installed'}", flush=True)
    results, t_start = [], time.monotonic()
    for r in range(1, args.runs + 1):
        for path in notebooks:
            res = run_one(path, args, Client)
            res["round"] = r
            results.append(res)
            cells = res["cells_s"]
            slowest = max(cells.items(), key=lambda kv: kv[1]) if cells else None
            print(f"[{r:3d}/{args.runs}] {res['notebook']:<24} {res['status']:<7} "
                  f"{res['total_s']:6.1f} s (start {res['startup_s']}, slowest cell "
                  f"{slowest and f'{slowest[0]}: {slowest[1]}'}, shutdown {res['shutdown_s']})"
                  + (f"  {res['detail']}" if res["detail"] else ""), flush=True)
            for line in res["diagnosis"]:
                print("      " + line, flush=True)
            if res["status"] == "INTERRUPTED" or (args.stop_on_stall and res["status"] != "ok"):
                break
        else:
            continue
        break
    elapsed = time.monotonic() - t_start
    bad = [x for x in results if x["status"] != "ok"]
    stalls = [x for x in bad if x["status"] in ("TIMEOUT", "STARTUP", "SLOW")]
    totals = [x["total_s"] for x in results]
    print(f"stress_execute: {len(results)} executions in {elapsed / 60:.1f} min "
          f"(median {statistics.median(totals):.1f} s, max {max(totals):.1f} s per notebook); "
          f"{len(stalls)} stall(s), {len(bad) - len(stalls)} other failure(s)")
    for x in bad:
        print(f"  round {x['round']} {x['notebook']}: {x['status']} {x['detail']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
