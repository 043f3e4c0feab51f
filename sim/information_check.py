#!/usr/bin/env python3
"""How much do the model's inputs tell about each target on the mock, and is the
mock's coupling of line fluxes to colours like the real sky's?

Usage:  python3 sim/information_check.py MOCK_DIR [SHARED_DATA_DIR]

MOCK_DIR holds shards from `galpost mock shards` (the catalogue is all this reads,
so `--size 16` is enough); SHARED_DATA_DIR defaults to ../shared/data.
Needs numpy, scikit-learn and astropy (pip); galpost itself does not.

Part 1 fits a gradient-boosted regressor (squared error, so it estimates the
posterior mean, which is what R^2 rewards) on 80% of the mock and reports test
R^2 for the nine targets of design.md from
  phot        the model's photometric inputs (extinction-corrected ugriz, 4 colours)
  +measured   phot + what SDSS measures on the same pixels (Petrosian R50, R90,
              fibre, PSF and Petrosian magnitudes minus the model magnitude):
              information that the cutout holds and a perfect encoder could pass on
              (optimistic: the mock draws these from the noiseless PSF-convolved
              profile with a 3% + 1/(S/N) scatter, not from its noisy images;
              weights/README.md measures about half the log SFR gain on the images)
  +truth      the above + the mock's true structure and dust (B/T, disc and bulge
              radii, axis ratio, A_Halpha, R50 in kpc, surface brightness): more
              than any image can tell, so a ceiling for the image model.
Part 2 compares, on the real line table's emission-line galaxies (r <= 17.77,
all four fluxes positive), the R^2 of each line's y = log10(1 + F) from r and
the four colours (5-fold cross-validation) with the same statistic on mock
galaxies drawn to the real r distribution under two selections: all four fibre
fluxes > 3e-17 (the real table's smallest fluxes) and S/N > 3 in all four.
Part 3 does the same for N2 = log([NII]/Halpha), the metallicity indicator, among
the star-forming galaxies of that sample (below Kauffmann+03; fluxes > 3e-17), and
prints the quantiles of N2 and of g-r and a linear fit of N2 on g-r, u-g and r.
"""
import glob
import os
import sys

import numpy as np
from astropy.io import fits
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, cross_val_predict

LINES = ["h_alpha_flux", "h_beta_flux", "nii_6584_flux", "oiii_5007_flux"]


def y_of(flux):
    return np.sign(flux) * np.log10(1 + np.abs(flux))


def load_mock(directory):
    files = sorted(glob.glob(os.path.join(directory, "*.fits")))
    if not files:
        raise FileNotFoundError(f"{directory}: no shards")
    tables = [fits.open(f)["GALAXIES"].data for f in files]
    return lambda name: np.concatenate([t[name].astype(float) for t in tables])


def part1(col):
    mag = np.stack([col("modelMag_" + b) - col("extinction_" + b) for b in "ugriz"], 1)
    phot = np.hstack([mag, mag[:, :-1] - mag[:, 1:]])
    measured = np.stack([col("petroR50_r"), col("petroR90_r"),
                         col("fiberMag_r") - col("modelMag_r"),
                         col("psfMag_r") - col("modelMag_r"),
                         col("petroMag_r") - col("modelMag_r")], 1)
    truth = np.stack([col("bt_r"), np.log10(col("re_disk") + 1e-3),
                      np.log10(col("re_bulge") + 1e-3), col("q_disk"),
                      col("a_halpha"), col("r50_kpc"), col("mu50")], 1)
    targets = {"z": col("z"), "log M*": col("lgm_tot_p50"), "log SFR": col("sfr_tot_p50"),
               "log M_BH": col("log_mbh"),
               "O/H": np.where(col("oh_measurable") == 1, col("oh_p50"), np.nan)}
    for line in LINES:
        targets[line] = y_of(col(line))
    sets = {"phot": phot, "+measured": np.hstack([phot, measured]),
            "+truth": np.hstack([phot, measured, truth])}
    test = np.random.default_rng(0).random(len(phot)) < 0.2
    print(f"Part 1: test R^2, {len(phot)} mock galaxies, {test.sum()} in the test part")
    print("%-16s" % "target" + "".join("%12s" % k for k in sets))
    for name, v in targets.items():
        ok = np.isfinite(v) & (v > -9000) & np.all(np.isfinite(phot), 1)
        row = []
        for x in sets.values():
            model = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.1, random_state=0)
            model.fit(x[ok & ~test], v[ok & ~test])
            row.append(r2_score(v[ok & test], model.predict(x[ok & test])))
        print("%-16s" % name + "".join("%12.3f" % r for r in row), flush=True)


def cv_r2(x, v, seed=0):
    model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05,
                                          min_samples_leaf=20, random_state=0)
    pred = cross_val_predict(model, x, v, cv=KFold(5, shuffle=True, random_state=seed))
    return r2_score(v, pred)


def part2(col, shared):
    path = os.path.join(shared, "sdss-tables", "ugriz-bpt-lines.csv")
    if not os.path.exists(path):
        print(f"Part 2 skipped: {path} not found")
        return
    real = np.genfromtxt(path, delimiter=",", names=True)
    rmag = np.stack([real[b] for b in "ugriz"], 1)
    ok = np.all(np.isfinite(rmag) & (rmag > 5) & (rmag < 30), 1) & (rmag[:, 2] <= 17.77)
    for line in LINES:
        ok &= np.isfinite(real[line]) & (real[line] > 0)
    rmag = rmag[ok]
    feats = lambda m: np.hstack([m[:, 2:3], m[:, :-1] - m[:, 1:]])
    mmag = np.stack([col("modelMag_" + b) for b in "ugriz"], 1)
    bins = np.arange(12, 23, 0.25)
    hist_real, _ = np.histogram(rmag[:, 2], bins)
    hist_mock, _ = np.histogram(mmag[:, 2], bins)
    ratio = np.where(hist_mock > 0, hist_real / np.maximum(hist_mock, 1), 0)
    weight = ratio[np.clip(np.digitize(mmag[:, 2], bins) - 1, 0, len(bins) - 2)]
    weight *= (mmag[:, 2] >= bins[0]) & (mmag[:, 2] < bins[-1])
    selections = {
        "F > 3": np.all([col(l) > 3 for l in LINES], 0),
        "S/N > 3": np.all([col(l) > 3 * col(l + "_err") for l in LINES], 0),
    }
    rng = np.random.default_rng(1)
    print(f"\nPart 2: R^2 of y from r and colours (5-fold CV), {len(rmag)} real galaxies; "
          "mock: mean +- sd of 5 draws of as many")
    print("%-16s %8s" % ("line", "real") + "".join("%18s" % s for s in selections))
    results = {s: {} for s in selections}
    for s, sel in selections.items():
        p = weight * sel
        draws = [rng.choice(len(mmag), size=len(rmag), replace=False, p=p / p.sum()) for _ in range(5)]
        for line in LINES:
            r2 = [cv_r2(feats(mmag[i]), y_of(col(line))[i]) for i in draws]
            results[s][line] = (np.mean(r2), np.std(r2))
    for line in LINES:
        print("%-16s %8.3f" % (line, cv_r2(feats(rmag), y_of(real[line][ok]))) +
              "".join("%11.3f +- %.3f" % results[s][line] for s in selections), flush=True)


def kauffmann03(n2):
    return 0.61 / (n2 - 0.05) + 1.30


def star_forming(flux, mags):
    ok = np.all([flux(l) > 3 for l in LINES], 0) & (mags[:, 2] <= 17.77) & np.all(np.isfinite(mags), 1)
    n2 = np.log10(np.where(ok, flux("nii_6584_flux") / flux("h_alpha_flux"), 1))
    o3 = np.log10(np.where(ok, flux("oiii_5007_flux") / flux("h_beta_flux"), 1))
    return ok & (n2 < 0.05) & (o3 < kauffmann03(n2)), n2


def part3(col, shared):
    path = os.path.join(shared, "sdss-tables", "ugriz-bpt-lines.csv")
    if not os.path.exists(path):
        return
    real = np.genfromtxt(path, delimiter=",", names=True)
    rmag = np.stack([real[b] for b in "ugriz"], 1)
    rsf, rn2 = star_forming(lambda l: real[l], rmag)
    mmag = np.stack([col("modelMag_" + b) for b in "ugriz"], 1)
    msf, mn2 = star_forming(col, mmag)
    feats = lambda m: np.hstack([m[:, 2:3], m[:, :-1] - m[:, 1:]])
    bins = np.arange(12, 23, 0.25)
    hist_real, _ = np.histogram(rmag[rsf, 2], bins)
    hist_mock, _ = np.histogram(mmag[msf, 2], bins)
    ratio = np.where(hist_mock > 0, hist_real / np.maximum(hist_mock, 1), 0)
    p = ratio[np.clip(np.digitize(mmag[:, 2], bins) - 1, 0, len(bins) - 2)] * msf
    rng = np.random.default_rng(2)
    draws = [rng.choice(len(mmag), size=rsf.sum(), replace=False, p=p / p.sum()) for _ in range(5)]
    r2 = [cv_r2(feats(mmag[i]), mn2[i]) for i in draws]
    boot = []
    for _ in range(20):
        j = rng.choice(np.where(rsf)[0], size=rsf.sum(), replace=True)
        boot.append(cv_r2(feats(rmag[j]), rn2[j]))
    print(f"\nPart 3: N2 of star-forming galaxies from r and colours (5-fold CV), "
          f"{rsf.sum()} real, mock as in part 2")
    print("real R^2 %.3f (bootstrap sd %.3f), mock %.3f +- %.3f" % (
        cv_r2(feats(rmag[rsf]), rn2[rsf]), np.std(boot), np.mean(r2), np.std(r2)))
    many = rng.choice(len(mmag), size=20000, replace=True, p=p / p.sum())
    for name, m, n2 in (("real", rmag[rsf], rn2[rsf]), ("mock", mmag[many], mn2[many])):
        gr, ug = m[:, 1] - m[:, 2], m[:, 0] - m[:, 1]
        a = np.stack([np.ones(len(m)), gr, ug, m[:, 2]], 1)
        coef, *_ = np.linalg.lstsq(a, n2, rcond=None)
        print("%s: N2 5/16/50/84/95%% %s; g-r 16/50/84%% %s; N2 = %.3f %+.3f (g-r) %+.3f (u-g) %+.3f r, "
              "residual sd %.3f" % (name, np.percentile(n2, [5, 16, 50, 84, 95]).round(3),
                                    np.percentile(gr, [16, 50, 84]).round(3), *coef, (n2 - a @ coef).std()))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    try:
        col = load_mock(sys.argv[1])
    except FileNotFoundError as e:
        sys.exit(str(e))
    shared = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
    if os.environ.get("SKIP_PART1") != "1":
        part1(col)
    part2(col, shared)
    part3(col, shared)


if __name__ == "__main__":
    main()
