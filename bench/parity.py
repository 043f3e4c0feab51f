#!/usr/bin/env python3
"""parity.py: check that bench/torch_model.py computes what galpost computes.

    parity.py --dump BUILD/bench/gp_dump [--model FILE] [--galaxies 4]
              [--nsamples 50] [--tol 1e-5]

Writes fresh random inputs, runs gp_dump (galpost's intermediate values) and
the PyTorch model on them and compares, per stage, the largest absolute
difference relative to the largest magnitude of galpost's values:
stretch, encoder mu/logvar, decoder, trunk input, per member trunk, heads,
classifier, the three flows applied to galpost's own base noise, and the
final samples (PyTorch's own Philox noise).  The Philox normals are compared
too (they must agree to 1 ulp of float32: numpy's vectorised log/cos/sin may
differ from glibc's in the last bit of a double).  Exit status 0 when every
stage is within --tol, 1 otherwise.  Without --model, a default-architecture
random model is written with `galpost model random` (--galpost).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_model as tm  # noqa: E402
from gp_weights import GpWeights  # noqa: E402


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise SystemExit(f"parity.py: shape mismatch {a.shape} vs {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    scale = np.max(np.abs(b))
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else float(np.max(np.abs(a - b)))


def main(argv=None):
    ap = argparse.ArgumentParser(description="galpost vs PyTorch parity check")
    ap.add_argument("--dump", required=True, help="the gp_dump program (BUILD/bench/gp_dump)")
    ap.add_argument("--galpost", help="the galpost program (to write a random model)")
    ap.add_argument("--model", help="weights file (default: a random default-architecture model)")
    ap.add_argument("--galaxies", type=int, default=4)
    ap.add_argument("--nsamples", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None, help="input seed (default: fresh)")
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"parity.py: input seed {seed}")
    with tempfile.TemporaryDirectory(prefix="gp_parity_") as tmp:
        model_path = a.model
        if not model_path:
            model_path = os.path.join(tmp, "model.gpw")
            galpost = a.galpost or os.path.join(os.path.dirname(os.path.dirname(a.dump)), "galpost")
            subprocess.run([galpost, "model", "random", model_path, "--seed", str(seed % 1000003)], check=True,
                           stdout=subprocess.DEVNULL)
        ids, mags, cut = tm.make_inputs(a.galaxies, seed)
        inp = os.path.join(tmp, "inputs.bin")
        tm.write_inputs(inp, ids, mags, cut)
        out = os.path.join(tmp, "dump")
        os.mkdir(out)
        sample_seed = seed % 100000 + 1
        subprocess.run([a.dump, model_path, inp, out, "--nsamples", str(a.nsamples), "--seed", str(sample_seed),
                        "--threads", "2"], check=True)
        info = json.load(open(os.path.join(out, "info.json")))

        def ld(name, shape, dtype=np.float32):
            return np.fromfile(os.path.join(out, name), dtype=dtype).reshape(shape)

        model = tm.GalpostTorch(GpWeights(model_path))
        n, N, K = info["n"], info["nsamples"], info["K"]
        rows_ok = []

        def check(stage, got, ref):
            r = rel(got, ref)
            ok = r <= a.tol
            rows_ok.append(ok)
            print(f"  {stage:<28s} rel. max diff {r:9.2e}  {'ok' if ok else 'FAIL'}")

        with torch.inference_mode():
            ct = torch.from_numpy(cut)
            if model.uses_image:
                L = info["latent"]
                xs = model.stretch(ct)
                check("stretch", xs.numpy(), ld("stretched", cut.shape))
                # encoder on galpost's stretched input, so each stage is compared on its own
                mu, lv = model.encode(torch.from_numpy(ld("stretched", cut.shape)))
                check("encoder mu", mu.numpy(), ld("mu", (n, L)))
                check("encoder logvar", lv.numpy(), ld("logvar", (n, L)))
                dec = model.decode(torch.from_numpy(ld("mu", (n, L))))
                check("decoder", dec.numpy(), ld("decoded", cut.shape))
            tin = model.trunk_input(ct, mags)
            tin_ref = ld("tin", (n, info["trunk_in"]))
            check("trunk input", tin.numpy(), tin_ref)
            tin_g = torch.from_numpy(tin_ref)
            noise = {}
            for k, mm in enumerate(model.members):
                svals = np.arange(k, N, K)
                rows = n * svals.size
                row_gal = torch.from_numpy(np.repeat(np.arange(n), svals.size))
                trunk = mm.trunk(tin_g)
                trunk_ref = ld(f"m{k}.trunk", (n, info["trunk"]))
                check(f"member {k} trunk", trunk.numpy(), trunk_ref)
                tr = torch.from_numpy(trunk_ref)
                head = mm.core_head(tr)
                check(f"member {k} core head", head.numpy(), ld(f"m{k}.head", (n, 5)))
                check(f"member {k} classifier", mm.classifier(tr).numpy()[:, 0], ld(f"m{k}.cls", (n,)))
                lhead = mm.line_head(tr)
                check(f"member {k} line head", lhead.numpy(), ld(f"m{k}.lhead", (n, 4)))
                if rows == 0:
                    continue
                zc, zo, zl = ld(f"m{k}.noise_core", (rows, 4)), ld(f"m{k}.noise_oh", (rows, 1)), \
                    ld(f"m{k}.noise_line", (rows, 4))
                noise[k] = (zc, zo, zl)
                gid = ids[np.repeat(np.arange(n), svals.size)]
                sidx = np.tile(svals, n)
                for name, z, stream, dim in (("core", zc, 0, 4), ("O/H", zo, 1, 1), ("line", zl, 2, 4)):
                    mine = tm.philox_normals(sample_seed, gid, sidx, stream, dim)
                    ulp = np.max(np.abs(mine.view(np.int32).astype(np.int64) - z.view(np.int32).astype(np.int64)))
                    ok = ulp <= 1
                    rows_ok.append(ok)
                    print(f"  member {k} {name:<5s} Philox normals   max {ulp} ulp, "
                          f"{np.count_nonzero(mine != z)} of {z.size} differ  {'ok' if ok else 'FAIL'}")
                hd = torch.from_numpy(ld(f"m{k}.head", (n, 5)))
                lh = torch.from_numpy(ld(f"m{k}.lhead", (n, 4)))
                for split in (False, True):
                    tag = " (split ctx)" if split else ""
                    core = mm.core_flow.sample(torch.from_numpy(zc), tr, row_gal, split) + hd[:, :4].index_select(0, row_gal)
                    core_ref = ld(f"m{k}.core", (rows, 4))
                    check(f"member {k} core flow{tag}", core.numpy(), core_ref)
                    oh = mm.oh_sample(torch.from_numpy(zo), torch.from_numpy(core_ref), tr, row_gal, split) + \
                        hd[:, 4:].index_select(0, row_gal)
                    check(f"member {k} O/H flow{tag}", oh.numpy(), ld(f"m{k}.oh", (rows, 1)))
                    line = mm.line_flow.sample(torch.from_numpy(zl), tr, row_gal, split) + lh.index_select(0, row_gal)
                    check(f"member {k} line flow{tag}", line.numpy(), ld(f"m{k}.line", (rows, 4)))
            smp_ref = ld("samples", (n, N, 9))
            smp, pdet = model.sample(tin, ids, N, sample_seed)
            # standardized units, so that a redshift of 0.1 and a mass of 10.6 weigh alike
            std = model.target_std
            check("final samples (standardized)", smp / std, smp_ref / std)
            check("P(detectable)", pdet, ld("pdet", (n,), np.float64))
            summ = tm.summaries(smp_ref)
            sref = ld("summary", (n, 5, 9), np.float64)
            for j, key in enumerate(("median", "p16", "p84", "mean", "std")):
                check(f"summary {key} (same samples)", summ[key], sref[:, j])
    bad = rows_ok.count(False)
    print(f"parity.py: {len(rows_ok) - bad} passed, {bad} failed (tolerance {a.tol:g} relative to each stage's largest value)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
