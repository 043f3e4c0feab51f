#!/usr/bin/env python3
"""torch_model.py: galpost's model (design.md section 2) in PyTorch, read from a
galpost weights file, for the side-by-side benchmark (bench/compare.sh) and the
parity check (bench/parity.py).

It is written the way a PyTorch user would write this model: nn.Conv2d /
nn.Linear / nn.ConvTranspose2d modules, eager mode, torch.inference_mode(), and
every coupling conditioner fed the concatenation [x_kept, context] per sample
row, as the model is defined (galpost splits the conditioner's first layer so
the context part is computed once per galaxy; `split_context=True` does the
same here, to measure what that algebraic trick is worth on its own).

Sampling follows galpost exactly (engine/gp_infer.c, engine/gp_rng.h):
  * sample s of a galaxy belongs to ensemble member s mod K;
  * its base noise is Philox4x32-10 keyed by the seed, counter
    (s, stream, id_lo, id_hi), Box-Muller in double (philox_normals below);
  * core flow: x = noise (4), couplings applied from the last to the first,
    x_t = (x_t - t) exp(-s), s = S tanh(s_raw / S), [s_raw, t] = MLP([x_kept, trunk]);
    core = x + head[:4]  (standardized);
  * O/H: u = noise (stream 1, 1 dim), [s_raw, t] = MLP([core, trunk]),
    r = (u - t) exp(-s), oh = r + head[4]  (the same direction as the core
    flow's sampling; weights/FORMAT.md).
  * lines: as the core flow (stream 2) plus the line head;
  * unstandardized in double: v * target.std + target.mean, then float32;
    with target.z_softplus = s the redshift column is s ln(1 + exp(t / s)),
    held at the least float (gp_z_from_target, engine/gp_net.h).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gp_weights import GpWeights, GpWeightsError  # noqa: E402

NPHOT = 9
NCORE = 4
NLINE = 4
NQ = 9
CUTOUT = 160
STREAM_CORE, STREAM_OH, STREAM_LINE = 0, 1, 2

# ----------------------------------------------------------------- Philox

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Random123's philox4x32 with 10 rounds on arrays of 32-bit counters
    (held in uint64 arrays); returns the four output words as uint64 arrays."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) & _MASK for c in (c0, c1, c2, c3))
    k0, k1 = np.uint64(k0) & _MASK, np.uint64(k1) & _MASK
    for r in range(10):
        if r:
            k0 = (k0 + _W0) & _MASK
            k1 = (k1 + _W1) & _MASK
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = ((p1 >> _S32) ^ c1 ^ k0, p1 & _MASK, (p0 >> _S32) ^ c3 ^ k1, p0 & _MASK)
    return c0, c1, c2, c3


def philox_normals(seed, gal_ids, sample_idx, stream, dim):
    """out[r, d]: normal d of sample sample_idx[r] of galaxy gal_ids[r] in
    `stream` (engine/gp_rng.h), float32 [rows x dim]."""
    seed = int(seed)
    ids = np.asarray(gal_ids, dtype=np.uint64)
    w = philox4x32_10(np.asarray(sample_idx, dtype=np.uint64), np.full(ids.shape, stream, np.uint64),
                      ids & _MASK, ids >> _S32, seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF)
    inv32 = 2.3283064365386962890625e-10
    two_pi = 6.283185307179586476925286766559
    out = np.empty((ids.shape[0], 4), dtype=np.float32)
    for k in range(2):
        u0 = (w[2 * k].astype(np.float64) + 0.5) * inv32
        u1 = (w[2 * k + 1].astype(np.float64) + 0.5) * inv32
        rad = np.sqrt(-2.0 * np.log(u0))
        out[:, 2 * k] = rad * np.cos(two_pi * u1)
        out[:, 2 * k + 1] = rad * np.sin(two_pi * u1)
    return out[:, :dim]


# ----------------------------------------------------------------- modules

def _linear(w, name):
    W = w.tensors[name + ".weight"]
    lin = nn.Linear(W.shape[1], W.shape[0])
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.array(W)))
        lin.bias.copy_(torch.from_numpy(np.array(w.tensors[name + ".bias"])))
    return lin


def _act_module(name, slope):
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(slope)
    if name == "tanh":
        return nn.Tanh()
    raise GpWeightsError(f"unknown activation '{name}'")


class Mlp(nn.Module):
    """prefix.0 .. prefix.(n-1); activation between layers (and after the last
    when act_last, as galpost's trunk)."""

    def __init__(self, w, prefix, act, act_last):
        super().__init__()
        layers = []
        i = 0
        while f"{prefix}.{i}.weight" in w.tensors:
            layers.append(_linear(w, f"{prefix}.{i}"))
            i += 1
        if not layers:
            raise GpWeightsError(f"{w.path}: tensor '{prefix}.0.weight' not found")
        seq = []
        for j, lin in enumerate(layers):
            seq.append(lin)
            if j < len(layers) - 1 or act_last:
                seq.append(act)
        self.net = nn.Sequential(*seq)
        self.layers = layers

    def forward(self, x):
        return self.net(x)


class Conditioner(nn.Module):
    """MLP on [x_row (nrow), context (nctx)].  split_context: the first layer
    computed as W_row x_row + (W_ctx c + b) with the context part once per
    galaxy (galpost's way); otherwise on the concatenation per row."""

    def __init__(self, w, prefix, nrow, act):
        super().__init__()
        self.mlp = Mlp(w, prefix, act, act_last=False)
        self.nrow = nrow
        first = self.mlp.layers[0]
        self.w_row = first.weight[:, :nrow].detach().clone()
        self.w_ctx = first.weight[:, nrow:].detach().clone()
        self.rest = nn.Sequential(*list(self.mlp.net)[1:])  # (children() would drop the shared activation)

    def forward(self, xrow, ctx, row_gal, split_context=False):
        if split_context:
            g = torch.addmm(self.mlp.layers[0].bias, ctx, self.w_ctx.t())
            h = xrow @ self.w_row.t() + g.index_select(0, row_gal)
            return self.rest(h)
        return self.mlp(torch.cat([xrow, ctx.index_select(0, row_gal)], dim=1))


class RealNVP(nn.Module):
    def __init__(self, w, prefix, metakey, dim, act):
        super().__init__()
        L = int(w.meta[metakey + ".couplings"])
        masks = np.asarray(w.meta[metakey + ".masks"]).reshape(L, dim)
        self.S = float(w.meta[metakey + ".scale_bound"])
        self.keep = [torch.tensor(np.nonzero(m == 1)[0]) for m in masks]
        self.trans = [torch.tensor(np.nonzero(m == 0)[0]) for m in masks]
        self.cond = nn.ModuleList(Conditioner(w, f"{prefix}.{l}.net", len(self.keep[l]), act) for l in range(L))

    def sample(self, x, ctx, row_gal, split_context=False):
        """Base noise -> data (galpost's dir = -1), in place on a copy of x."""
        x = x.clone()
        for l in reversed(range(len(self.cond))):
            keep, trans = self.keep[l], self.trans[l]
            st = self.cond[l](x.index_select(1, keep), ctx, row_gal, split_context)
            nt = trans.numel()
            s = self.S * torch.tanh(st[:, :nt] / self.S)
            x[:, trans] = (x.index_select(1, trans) - st[:, nt:]) * torch.exp(-s)
        return x


class Member(nn.Module):
    def __init__(self, w, k, act, T):
        super().__init__()
        p = f"m{k}"
        self.trunk = Mlp(w, p + ".trunk", act, act_last=True)
        self.core_head = Mlp(w, p + ".core_head", act, act_last=False)
        self.classifier = Mlp(w, p + ".classifier", act, act_last=False)
        self.line_head = Mlp(w, p + ".line_head", act, act_last=False)
        self.core_flow = RealNVP(w, p + ".core_flow", "flow.core", NCORE, act)
        self.line_flow = RealNVP(w, p + ".line_flow", "flow.line", NLINE, act)
        self.oh_cond = Conditioner(w, p + ".oh_flow.net", NCORE, act)
        self.oh_S = float(w.meta["flow.oh.scale_bound"])

    def oh_sample(self, u, core, ctx, row_gal, split_context=False):
        st = self.oh_cond(core, ctx, row_gal, split_context)
        s = self.oh_S * torch.tanh(st[:, :1] / self.oh_S)
        return (u - st[:, 1:]) * torch.exp(-s)


class GalpostTorch(nn.Module):
    """The whole model, from a galpost weights file (GpWeights)."""

    def __init__(self, w):
        super().__init__()
        m = w.meta
        self.uses_image = m["model.variant"] == "image"
        self.slope = float(m["mlp.leaky_slope"])
        act = _act_module(m["mlp.activation"], self.slope)
        self.phot_mean = np.asarray(m["phot.mean"], dtype=np.float32)
        self.phot_std = np.asarray(m["phot.std"], dtype=np.float32)
        self.target_mean = np.asarray(m["target.mean"], dtype=np.float64)
        self.target_std = np.asarray(m["target.std"], dtype=np.float64)
        # redshift trained as s ln(exp(z/s) - 1) (absent: z itself)
        self.z_softplus = float(m.get("target.z_softplus", 0.0))
        self.K = int(m["ensemble.size"])
        if self.uses_image:
            soft = np.asarray(m["image.softening"], dtype=np.float32)
            self.inv_soft = torch.from_numpy((np.float32(1) / soft).reshape(1, 3, 1, 1))
            self.offset = torch.from_numpy(np.asarray(m["image.offset"], dtype=np.float32).reshape(1, 3, 1, 1))
            self.inv_scale = torch.from_numpy(
                (np.float32(1) / np.asarray(m["image.scale"], dtype=np.float32)).reshape(1, 3, 1, 1))
            ch = [int(c) for c in m["encoder.channels"]]
            k, s, p = int(m["encoder.kernel"]), int(m["encoder.stride"]), int(m["encoder.padding"])
            self.latent = int(m["encoder.latent"])
            convs, deconvs = [], []
            for i in range(3):
                c = nn.Conv2d(ch[i], ch[i + 1], k, s, p)
                with torch.no_grad():
                    c.weight.copy_(torch.from_numpy(np.array(w.tensors[f"enc.conv{i}.weight"])))
                    c.bias.copy_(torch.from_numpy(np.array(w.tensors[f"enc.conv{i}.bias"])))
                convs += [c, nn.LeakyReLU(self.slope)]
            for i in range(3):
                d = nn.ConvTranspose2d(ch[3 - i], ch[2 - i], k, s, p)
                with torch.no_grad():
                    d.weight.copy_(torch.from_numpy(np.array(w.tensors[f"dec.deconv{i}.weight"])))
                    d.bias.copy_(torch.from_numpy(np.array(w.tensors[f"dec.deconv{i}.bias"])))
                deconvs.append(d)
                if i < 2:
                    deconvs.append(nn.LeakyReLU(self.slope))
            self.convs = nn.Sequential(*convs, nn.Flatten())
            self.fc_mu = _linear(w, "enc.fc_mu")
            self.fc_logvar = _linear(w, "enc.fc_logvar")
            self.dec_fc = nn.Sequential(_linear(w, "dec.fc"), nn.LeakyReLU(self.slope))
            self.deconvs = nn.Sequential(*deconvs)
            hw = CUTOUT
            for _ in range(3):
                hw = (hw + 2 * p - k) // s + 1
            self.dec_shape = (ch[3], hw, hw)
        T = w.tensors[f"m0.trunk.{sum(1 for n in w.tensors if n.startswith('m0.trunk.') and n.endswith('.weight')) - 1}.weight"].shape[0]
        self.members = nn.ModuleList(Member(w, k, act, T) for k in range(self.K))
        self.device = torch.device("cpu")
        self.eval()

    def to_device(self, dev):
        """Move the model to `dev`, the plain tensors kept outside nn
        parameters (stretch constants, coupling index lists, split
        conditioner weights) included."""
        dev = torch.device(dev)
        self.to(dev)
        self.device = dev
        if self.uses_image:
            self.inv_soft, self.offset, self.inv_scale = (t.to(dev) for t in (self.inv_soft, self.offset, self.inv_scale))
        for mm in self.members:
            conds = [mm.oh_cond]
            for fl in (mm.core_flow, mm.line_flow):
                fl.keep = [k.to(dev) for k in fl.keep]
                fl.trans = [t.to(dev) for t in fl.trans]
                conds += list(fl.cond)
            for c in conds:
                c.w_row, c.w_ctx = c.w_row.to(dev), c.w_ctx.to(dev)
        return self

    # ---- stages
    def stretch(self, x):
        """[n, 3, 160, 160] nanomaggies -> the encoder's input."""
        return (torch.asinh(x * self.inv_soft) - self.offset) * self.inv_scale

    def encode(self, xs):
        h = self.convs(xs)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        return self.deconvs(self.dec_fc(z).view(-1, *self.dec_shape))

    def photometry(self, mags):
        """[n, 5] float32 ugriz -> [n, 9] standardized colours + magnitudes (float32 as galpost)."""
        mags = np.asarray(mags, dtype=np.float32)
        raw = np.concatenate([mags[:, :4] - mags[:, 1:], mags], axis=1)
        # held within +-5 training standard deviations, as galpost does (GP_PHOT_CLIP)
        std = ((raw - self.phot_mean) / self.phot_std).astype(np.float32)
        return torch.from_numpy(np.clip(std, -5.0, 5.0).astype(np.float32))

    def trunk_input(self, cutouts, mags):
        phot = self.photometry(mags).to(self.device)
        if not self.uses_image:
            return phot
        mu, lv = self.encode(self.stretch(cutouts))
        return torch.cat([mu, torch.exp(0.5 * lv), phot], dim=1)

    def sample(self, tin, ids, nsamples, seed, split_context=False, noise=None):
        """Posterior samples [n, N, 9] (float32) and P(detectable) [n] (double).
        noise: optional {member: (core, oh, line)} base noise to use instead of Philox."""
        n, N, K = tin.shape[0], nsamples, self.K
        out = np.empty((n, N, NQ), dtype=np.float32)
        pdet = np.zeros(n, dtype=np.float64)
        ids = np.asarray(ids, dtype=np.uint64)
        for k, mm in enumerate(self.members):
            svals = np.arange(k, N, K)
            if svals.size == 0:
                continue
            row_gal_np = np.repeat(np.arange(n), svals.size)
            sample_idx = np.tile(svals, n)
            row_gal = torch.from_numpy(row_gal_np)
            trunk = mm.trunk(tin)
            head = mm.core_head(trunk)
            cls = mm.classifier(trunk)
            lhead = mm.line_head(trunk)
            if noise is None:
                gid = ids[row_gal_np]
                zc = torch.from_numpy(philox_normals(seed, gid, sample_idx, STREAM_CORE, NCORE))
                zo = torch.from_numpy(philox_normals(seed, gid, sample_idx, STREAM_OH, 1))
                zl = torch.from_numpy(philox_normals(seed, gid, sample_idx, STREAM_LINE, NLINE))
            else:
                zc, zo, zl = (torch.from_numpy(a) for a in noise[k])
            core = mm.core_flow.sample(zc, trunk, row_gal, split_context) + head[:, :NCORE].index_select(0, row_gal)
            oh = mm.oh_sample(zo, core, trunk, row_gal, split_context) + head[:, NCORE:].index_select(0, row_gal)
            line = mm.line_flow.sample(zl, trunk, row_gal, split_context) + lhead.index_select(0, row_gal)
            v = torch.cat([core, oh, line], dim=1).numpy().astype(np.float64)
            t = v * self.target_std + self.target_mean
            if self.z_softplus > 0:
                zs = self.z_softplus
                t[:, 2] = np.maximum(zs * np.logaddexp(0.0, t[:, 2] / zs), np.finfo(np.float32).tiny)
            smp = t.astype(np.float32)
            smp[:, 5:] = np.maximum(smp[:, 5:], 0.0)  # lines: y = log10(1 + max(F, 0)) >= 0, as galpost
            out[row_gal_np, sample_idx] = smp
            pdet += 1.0 / (1.0 + np.exp(-cls[:, 0].numpy().astype(np.float64))) / K
        return out, pdet


    def sample_device(self, tin, nsamples, gen):
        """sample() kept on tin's device, as a PyTorch user would write it for
        a GPU: base noise from torch.randn with `gen` (not galpost's Philox
        streams, which numpy computes on the host; the distribution is the
        same), posterior samples [n, N, 9] float32 and P(detectable) [n]
        float64, both on the device."""
        dev = tin.device
        n, N, K = tin.shape[0], nsamples, self.K
        out = torch.empty((n, N, NQ), dtype=torch.float32, device=dev)
        pdet = torch.zeros(n, dtype=torch.float64, device=dev)
        tmean = torch.as_tensor(self.target_mean, device=dev)
        tstd = torch.as_tensor(self.target_std, device=dev)
        for k, mm in enumerate(self.members):
            svals = torch.arange(k, N, K, device=dev)
            ns = svals.numel()
            if ns == 0:
                continue
            row_gal = torch.arange(n, device=dev).repeat_interleave(ns)
            sample_idx = svals.repeat(n)
            trunk = mm.trunk(tin)
            head = mm.core_head(trunk)
            cls = mm.classifier(trunk)
            lhead = mm.line_head(trunk)
            R = n * ns
            zc = torch.randn(R, NCORE, device=dev, generator=gen)
            zo = torch.randn(R, 1, device=dev, generator=gen)
            zl = torch.randn(R, NLINE, device=dev, generator=gen)
            core = mm.core_flow.sample(zc, trunk, row_gal) + head[:, :NCORE].index_select(0, row_gal)
            oh = mm.oh_sample(zo, core, trunk, row_gal) + head[:, NCORE:].index_select(0, row_gal)
            line = mm.line_flow.sample(zl, trunk, row_gal) + lhead.index_select(0, row_gal)
            v = torch.cat([core, oh, line], dim=1).double()
            t = v * tstd + tmean
            if self.z_softplus > 0:
                zs = self.z_softplus
                t[:, 2] = (zs * torch.nn.functional.softplus(t[:, 2] / zs)).clamp_min(float(np.finfo(np.float32).tiny))
            smp = t.float()
            smp[:, 5:] = smp[:, 5:].clamp_min(0.0)  # lines: y >= 0, as galpost
            out[row_gal, sample_idx] = smp
            pdet += torch.sigmoid(cls[:, 0].double()) / K
        return out, pdet


# ----------------------------------------------------------------- summaries

_C_OVER_H0, _OMEGA_M = 4282.749400, 0.3


def _np(t):
    """A tensor as a numpy array, downloaded first when on a device."""
    return t.cpu().numpy()


def _lum_dist_mpc_t(z, chunk=65536):
    """Luminosity distance by Simpson's rule on 2 ceil(z/0.01) (>= 8) intervals,
    as engine/gp_cosmo.c, vectorized in torch on z's device (z > 0), in row
    chunks."""
    out = torch.empty_like(z)
    for a in range(0, z.numel(), chunk):
        zz = z[a:a + chunk]
        n = torch.clamp(2 * torch.ceil(zz / 0.01), min=8)
        nmax = int(n.max())
        i = torch.arange(nmax + 1, device=z.device, dtype=torch.float64)
        h = zz / n
        x = h[:, None] * i[None, :]
        f = 1.0 / torch.sqrt(_OMEGA_M * (1 + x) ** 3 + 1 - _OMEGA_M)
        wts = torch.where(i % 2 == 1, 4.0, 2.0)[None, :].repeat(zz.numel(), 1)
        wts[:, 0] = 1.0
        wts[i[None, :] == n[:, None]] = 1.0
        wts[i[None, :] > n[:, None]] = 0.0
        out[a:a + chunk] = (1 + zz) * _C_OVER_H0 * (f * wts).sum(dim=1) * h / 3.0
    return out


def summaries(samples):
    """The summaries of engine/gp_summary.c for samples [n, N, 9], vectorized
    over galaxies with torch: median/p16/p84 (linear interpolation), mean, std
    (ddof 0), correlation, BPT class probabilities and the per-sample line
    diagnostics' median/p16/p84.  Returns a dict of numpy arrays."""
    s = samples.double() if torch.is_tensor(samples) else torch.from_numpy(samples).double()
    q = torch.tensor([0.16, 0.5, 0.84], dtype=torch.float64, device=s.device)
    res = {}
    pct = torch.quantile(s, q, dim=1)                     # [3, n, 9]
    res["p16"], res["median"], res["p84"] = _np(pct[0]), _np(pct[1]), _np(pct[2])
    mean = s.mean(dim=1)
    d = s - mean[:, None, :]
    cov = torch.einsum("nsa,nsb->nab", d, d) / s.shape[1]
    std = torch.sqrt(torch.diagonal(cov, dim1=1, dim2=2))
    corr = (cov / (std[:, :, None] * std[:, None, :])).clamp(-1, 1)
    res["mean"], res["std"], res["corr"] = _np(mean), _np(std), _np(corr)
    F = torch.pow(10.0, s[:, :, 5:9]) - 1
    ha, hb, nii, oiii = F[..., 0], F[..., 1], F[..., 2], F[..., 3]
    nan = torch.tensor(float("nan"), dtype=torch.float64, device=s.device)
    okd = (ha > 0) & (hb > 0)
    dec = torch.where(okd, ha / hb, nan)
    ebv = torch.where(okd, (1.966 * torch.log10(dec / 2.86)).clamp(min=0), torch.zeros_like(ha))
    av = torch.where(okd, 4.05 * ebv, nan)
    z = s[:, :, 2]
    oks = (ha > 0) & (z > 0)
    sfr = torch.full_like(ha, float("nan"))
    zt = z[oks]
    if zt.numel():
        dl = _lum_dist_mpc_t(zt) * 3.0857e24
        L = 4 * math.pi * dl * dl * ha[oks] * 1e-17 * torch.pow(10.0, 0.4 * 3.326 * ebv[oks])
        sfr[oks] = torch.log10(L) - 41.27
    x = torch.where((ha > 0) & (nii > 0), torch.log10(nii / ha), nan)
    y = torch.where((hb > 0) & (oiii > 0), torch.log10(oiii / hb), nan)
    n2oh = torch.where((x > -2.5) & (x < -0.3), 8.90 + 0.57 * x, nan)
    both = torch.isfinite(x) & torch.isfinite(y)
    o3n2 = y - x
    o3n2oh = torch.where(both & (o3n2 < 1.9), 8.73 - 0.32 * o3n2, nan)
    sf = (x < 0.05) & (y < 0.61 / (x - 0.05) + 1.30)
    comp = ~sf & (x < 0.47) & (y < 0.61 / (x - 0.47) + 1.19)
    sey = ~sf & ~comp & (y > 1.05 * x + 0.45)
    cls = torch.where(sf, 0, torch.where(comp, 1, torch.where(sey, 2, 3)))
    nb = both.sum(dim=1)
    counts = torch.stack([((cls == c) & both).sum(dim=1) for c in range(4)], dim=1)
    res["p_bpt"] = _np(counts.double() / nb.clamp(min=1)[:, None])
    res["bpt_n"] = _np(nb)
    for name, v in (("sfr_halpha", sfr), ("balmer_decrement", dec), ("a_v", av), ("oh_n2", n2oh),
                    ("oh_o3n2", o3n2oh), ("log_n2", x), ("log_o3", y)):
        res[name] = _np(torch.nanquantile(v, q, dim=1))
    return res


# ----------------------------------------------------------------- inputs

def read_inputs(path):
    """A bench inputs file: u64 n, then n u64 ids, n x 5 f32 ugriz magnitudes,
    n x 3 x 160 x 160 f32 cutouts (little-endian), as bench/make_inputs.py writes."""
    with open(path, "rb") as f:
        n = int(np.frombuffer(f.read(8), "<u8")[0])
        ids = np.frombuffer(f.read(8 * n), "<u8").copy()
        mags = np.frombuffer(f.read(4 * 5 * n), "<f4").reshape(n, 5).copy()
        cut = np.frombuffer(f.read(4 * 3 * CUTOUT * CUTOUT * n), "<f4").reshape(n, 3, CUTOUT, CUTOUT).copy()
    return ids, mags, cut


def write_inputs(path, ids, mags, cutouts):
    with open(path, "wb") as f:
        f.write(np.asarray([len(ids)], "<u8").tobytes())
        f.write(np.asarray(ids, "<u8").tobytes())
        f.write(np.asarray(mags, "<f4").tobytes())
        f.write(np.asarray(cutouts, "<f4").tobytes())


def make_inputs(n, seed=1):
    """n synthetic galaxies: a Gaussian blob on sky noise in each band."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:CUTOUT, 0:CUTOUT]
    r2 = (xx - 79.5) ** 2 + (yy - 79.5) ** 2
    cut = np.empty((n, 3, CUTOUT, CUTOUT), np.float32)
    mags = np.empty((n, 5), np.float32)
    for g in range(n):
        amp, rad = 0.5 + 3 * rng.random(), 3 + 10 * rng.random()
        for b in range(3):
            cut[g, b] = amp * (1 + 0.3 * b) * np.exp(-r2 / (2 * rad * rad)) + 0.03 * rng.standard_normal((CUTOUT, CUTOUT))
        r = 14.5 + 3 * rng.random()
        mags[g] = [r + 1.8, r + 0.8, r, r - 0.4, r - 0.7]
    ids = 1000 + rng.integers(0, 2 ** 40, n, dtype=np.uint64)
    return ids, mags, cut


# ----------------------------------------------------------------- benchmark

def _bench_loop(fn, seconds, min_iters=3):
    fn()  # warm-up
    it, t0 = 0, time.perf_counter()
    while True:
        fn()
        it += 1
        t = time.perf_counter() - t0
        if t >= seconds and it >= min_iters:
            return it, t


def _latency_runs(fn, seconds, max_runs):
    """Wall times (s) of fn after one warm-up call: for `seconds` (at least 5
    runs), at most max_runs."""
    lat = []
    fn()
    t0 = time.perf_counter()
    while len(lat) < max_runs and (time.perf_counter() - t0 < seconds or len(lat) < 5):
        s = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - s)
    return lat


def bench(model, ids, mags, cut, seconds, split_context=False):
    B = 64
    ids, mags, cutt = ids[:B], mags[:B], torch.from_numpy(cut[:B])
    res = {}
    with torch.inference_mode():
        if model.uses_image:
            it, t = _bench_loop(lambda: model.encode(model.stretch(cutt)), seconds)
            res["encoder_gps"] = it * B / t

        def pipeline(n, N):
            tin = model.trunk_input(cutt[:n], mags[:n])
            smp, pdet = model.sample(tin, ids[:n], N, 1, split_context)
            summaries(smp)

        it, t = _bench_loop(lambda: pipeline(B, 100), seconds)
        res["pipeline_gps"] = it * B / t
        lat = _latency_runs(lambda: pipeline(1, 1000), seconds, 200)
        res["latency_ms"] = 1e3 * float(np.median(lat))
        res["latency_runs"] = len(lat)
    return res


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def bench_device(model, ids, mags, cut, seconds, batch):
    """bench() on model.device (e.g. a GPU) at batch `batch`: cutouts start
    in pinned host memory and are uploaded each time, summaries are computed
    on the device and downloaded, as galpost's gp_infer does end to end."""
    dev, B = model.device, batch
    if cut.shape[0] < B:
        raise ValueError(f"the inputs file holds {cut.shape[0]} galaxies, fewer than --batch {B}")
    cut_host = torch.from_numpy(cut[:B])
    if dev.type == "cuda":
        cut_host = cut_host.pin_memory()
    mags = mags[:B]
    gen = torch.Generator(device=dev)
    gen.manual_seed(1)
    res = {"batch": B}
    with torch.inference_mode():
        if model.uses_image:
            def enc():
                model.encode(model.stretch(cut_host.to(dev, non_blocking=True)))
                _sync(dev)
            it, t = _bench_loop(enc, seconds)
            res["encoder_gps"] = it * B / t

        def pipeline(n, N):
            tin = model.trunk_input(cut_host[:n].to(dev, non_blocking=True), mags[:n])
            smp, pdet = model.sample_device(tin, N, gen)
            summaries(smp)
            _np(pdet)

        it, t = _bench_loop(lambda: pipeline(B, 100), seconds)
        res["pipeline_gps"] = it * B / t
        lat = _latency_runs(lambda: pipeline(1, 1000), seconds, 50)
        res["latency_ms"] = 1e3 * float(np.median(lat))
    return res


# ----------------------------------------------------------------- training

def _flow_density(flow, y, ctx, rows):
    """RealNVP data -> base noise (the direction training uses), out of
    place: z and the log-determinant per row."""
    x = y
    logdet = torch.zeros(y.shape[0], device=y.device)
    for l in range(len(flow.cond)):
        keep, trans = flow.keep[l], flow.trans[l]
        st = flow.cond[l](x.index_select(1, keep), ctx, rows)
        nt = trans.numel()
        s = flow.S * torch.tanh(st[:, :nt] / flow.S)
        x = x.index_copy(1, trans, x.index_select(1, trans) * torch.exp(s) + st[:, nt:])
        logdet = logdet + s.sum(dim=1)
    return x, logdet


def bench_train(model, seconds, vae_batch=64, flow_batch=256):
    """Training steps as bench_gpu --mode train measures them, on
    model.device: VAE steps (upload, stretch, encoder, reparameterisation,
    decoder, squared error + KL, backward, Adam on the VAE) in images/s and
    flow-stage steps of member 0 (upload, trunk, heads, classifier, the core,
    O/H and line flows' negative log-likelihoods, backward, gradient
    clipping at 10, Adam) in galaxies/s.  Returns {"vae": (items/s, ms),
    "flow": (items/s, ms)}."""
    dev = model.device
    g = torch.Generator().manual_seed(3)
    res = {}
    torch.set_grad_enabled(True)

    def timed(step, B):
        step()
        _sync(dev)
        it, t0 = 0, time.perf_counter()
        while True:
            step()
            _sync(dev)
            it += 1
            el = time.perf_counter() - t0
            if el >= seconds and it >= 2:
                return B * it / el, 1e3 * el / it

    if model.uses_image:
        B = vae_batch
        vae = [model.convs, model.fc_mu, model.fc_logvar, model.dec_fc, model.deconvs]
        opt = torch.optim.Adam([p for mod in vae for p in mod.parameters()], lr=1e-4)
        xh = 0.2 * torch.randn(B, 3, CUTOUT, CUTOUT, generator=g)

        def vae_step():
            xs = model.stretch(xh.to(dev, non_blocking=True))
            mu, lv = model.encode(xs)
            z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
            rec = model.decode(z)
            loss = ((rec - xs) ** 2).sum() / B + 0.5 * (mu * mu + torch.exp(lv) - 1 - lv).sum() / B
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        res["vae"] = timed(vae_step, B)

    B = flow_batch
    mm = model.members[0]
    opt = torch.optim.Adam(mm.parameters(), lr=1e-4)
    tin_dim = mm.trunk.layers[0].in_features
    xh = torch.randn(B, tin_dim, generator=g)
    yh = torch.randn(B, NQ, generator=g)
    mh = (torch.arange(B) % 4 != 3).float()
    rows = torch.arange(B, device=dev)

    def flow_step():
        x, y, m = (t.to(dev, non_blocking=True) for t in (xh, yh, mh))
        trunk = mm.trunk(x)
        head = mm.core_head(trunk)
        cls = mm.classifier(trunk)
        lhead = mm.line_head(trunk)
        loss = ((head - y[:, :NCORE + 1]) ** 2).sum() / B
        loss = loss + nn.functional.binary_cross_entropy_with_logits(cls[:, 0], m, reduction="sum") / B
        zc, ldc = _flow_density(mm.core_flow, y[:, :NCORE] - head[:, :NCORE], trunk, rows)
        loss = loss + (0.5 * (zc * zc).sum(dim=1) - ldc).sum() / B
        st = mm.oh_cond(y[:, :NCORE], trunk, rows)
        so = mm.oh_S * torch.tanh(st[:, :1] / mm.oh_S)
        u = (y[:, NCORE:NCORE + 1] - head[:, NCORE:]) * torch.exp(so) + st[:, 1:]
        loss = loss + (m * (0.5 * u[:, 0] ** 2 - so[:, 0])).sum() / B
        zl, ldl = _flow_density(mm.line_flow, y[:, NCORE + 1:] - lhead, trunk, rows)
        loss = loss + (0.5 * (zl * zl).sum(dim=1) - ldl).sum() / B
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(mm.parameters(), 10.0)
        opt.step()

    res["flow"] = timed(flow_step, B)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="galpost weights file")
    ap.add_argument("--inputs", help="bench inputs file (64 galaxies or more); not needed with --train")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu",
                    help="cpu (default: galpost's Philox noise, batch 64) or e.g. cuda (torch.randn noise, on the device)")
    ap.add_argument("--batch", type=int, default=64, help="batch size with --device other than cpu")
    ap.add_argument("--train", action="store_true",
                    help="measure training steps instead (bench_gpu --mode train's definition); prints "
                         "lines train<TAB>pytorch<TAB>vae|flow<TAB>batch<TAB>items/s<TAB>ms/step")
    ap.add_argument("--vae-batch", type=int, default=64)
    ap.add_argument("--flow-batch", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--tf32", choices=("default", "off", "on"), default="default",
                    help="on a GPU: PyTorch's own default (TF32 allowed in cuDNN convolutions, not in "
                         "matmuls), off (float32 everywhere, as galpost's default) or on (TF32 in both, "
                         "as galpost's GP_CUDA_TF32=1)")
    ap.add_argument("--split-context", action="store_true",
                    help="conditioners' first layer split as galpost does (context once per galaxy)")
    a = ap.parse_args(argv)
    if not a.train and not a.inputs:
        ap.error("--inputs is needed (except with --train)")
    torch.set_num_threads(a.threads)
    if a.tf32 != "default":
        torch.backends.cudnn.allow_tf32 = a.tf32 == "on"
        torch.backends.cuda.matmul.allow_tf32 = a.tf32 == "on"
    try:
        model = GalpostTorch(GpWeights(a.model))
    except GpWeightsError as e:
        print(f"torch_model.py: {e}", file=sys.stderr)
        return 1
    if a.train:
        if a.device != "cpu":
            model.to_device(a.device)
        r = bench_train(model, a.seconds, a.vae_batch, a.flow_batch)
        for stage, B in (("vae", a.vae_batch), ("flow", a.flow_batch)):
            if stage in r:
                print(f"train\tpytorch\t{stage}\t{B}\t{r[stage][0]:.1f}\t{r[stage][1]:.2f}")
        return 0
    ids, mags, cut = read_inputs(a.inputs)
    if a.device != "cpu":
        model.to_device(a.device)
        res = bench_device(model, ids, mags, cut, a.seconds, a.batch)
        res["device"] = torch.cuda.get_device_name(model.device) if model.device.type == "cuda" else str(model.device)
    else:
        res = bench(model, ids, mags, cut, a.seconds, a.split_context)
    res["tf32"] = a.tf32
    res["cudnn_tf32"] = bool(torch.backends.cudnn.allow_tf32)
    res["matmul_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
    res["torch"] = torch.__version__
    res["threads"] = torch.get_num_threads()
    res["split_context"] = a.split_context
    cfg = torch.__config__.show()
    res["blas"] = "MKL" if "Math Kernel Library" in cfg else ("OpenBLAS" if "OpenBLAS" in cfg or "BLAS_INFO=generic" in cfg else "?")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
