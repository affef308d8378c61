# Fit SAWB coefficients: MSE-optimal clip of a b-bit uniform symmetric quantizer (levels -a+i*2a/(2^b-1))
# for unit-variance Gaussian, Laplace, uniform, logistic densities; least squares a* = c1*sqrt(E w^2) + c2*E|w|.
import math
def dens_gauss(x): return math.exp(-x*x/2)/math.sqrt(2*math.pi)
bl = 1/math.sqrt(2)
def dens_lap(x): return math.exp(-abs(x)/bl)/(2*bl)
def dens_uni(x): return 1/(2*math.sqrt(3)) if abs(x) <= math.sqrt(3) else 0.0
sl = math.sqrt(3)/math.pi
def dens_logi(x):
    e = math.exp(-abs(x)/sl); return e/(sl*(1+e)**2)
dists = [("gauss", dens_gauss, math.sqrt(2/math.pi)), ("laplace", dens_lap, bl),
         ("uniform", dens_uni, math.sqrt(3)/2), ("logistic", dens_logi, None)]
L, G = 12.0, 24000
xs = [(-L + (i+0.5)*2*L/G) for i in range(G)]
dx = 2*L/G
tab = {}
for name, d, ea in dists:
    tab[name] = [d(x) for x in xs]
# E|w| for logistic numerically
for i,(name,d,ea) in enumerate(dists):
    if ea is None:
        dists[i] = (name, d, sum(abs(x)*p for x,p in zip(xs, tab[name]))*dx)
def mse(a, b, p):
    lv = 2**b - 1; step = 2*a/lv; s = 0.0
    for x, px in zip(xs, p):
        if px == 0: continue
        c = min(max(x, -a), a); q = -a + round((c + a)/step)*step
        s += (x-q)**2*px
    return s*dx
def opt(b, p):
    lo, hi = 0.2, 10.0
    g = (math.sqrt(5)-1)/2
    for _ in range(50):
        m1 = hi - g*(hi-lo); m2 = lo + g*(hi-lo)
        if mse(m1,b,p) < mse(m2,b,p): hi = m2
        else: lo = m1
    return (lo+hi)/2
for b in (2,3,4,8):
    rows = []
    for name, d, ea in dists:
        rows.append((ea, opt(b, tab[name])))
    # least squares a = c1 + c2*ea
    n = len(rows); sx = sum(r[0] for r in rows); sy = sum(r[1] for r in rows)
    sxx = sum(r[0]**2 for r in rows); sxy = sum(r[0]*r[1] for r in rows)
    c2 = (n*sxy - sx*sy)/(n*sxx - sx*sx); c1 = (sy - c2*sx)/n
    print(b, [round(r[1],3) for r in rows], "c1=%.3f c2=%.3f" % (c1, c2), flush=True)
