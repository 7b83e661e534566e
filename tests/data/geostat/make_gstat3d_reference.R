# 3D ordinary kriging reference for tests/core/test_volume_kriging.py (issue 18), from R gstat.
#
#   cd tests/data/geostat && Rscript make_gstat3d_reference.R
#
# writes gstat3d_samples.csv (x, y, z, v: 300 samples) and gstat3d_targets.csv (x, y, z and four gstat
# columns for 500 targets). Model: vgm(1, "Sph", 60, 0.1) with geometric anisotropy.
#   pred_global, var_global  krige(v~1, samples, targets, vgm(1, "Sph", 60, 0.1, anis = c(30, 10, 5, 0.5, 0.1)))
#                            with every sample (no nmax): the 3D anisotropy convention, all three angles.
#   pred_nmax32, var_nmax32  anis = c(30, 0, 0, 0.5, 0.1) with the 32 nearest samples *in the anisotropic
#                            space* (remine's and PyKrige's neighbourhood; GSLIB's search ellipsoid): gstat picks
#                            its nmax nearest by Euclidean distance in the coordinates it is given, so it gets the
#                            coordinates mapped explicitly (u along azimuth 30, w across it / 0.5, z / 0.1) and the
#                            isotropic model. Checked below: the mapped coordinates with the isotropic model equal
#                            the original ones with anis = c(30, 0, 0, 0.5, 0.1) (both global).
# Coordinates have 3 decimals (a random jitter of the continuous draws); the script stops if any target's 32nd
# and 33rd nearest samples (anisotropic distance) are within 1e-6 m of a tie, so the neighbour set is unique.
suppressMessages({library(sp); library(gstat)})
set.seed(20261207)
n <- 300; m <- 500
box <- function(k) data.frame(x = round(runif(k, 0, 100), 3), y = round(runif(k, 0, 100), 3),
                              z = round(runif(k, 0, 20), 3))
s <- box(n)
s$v <- round(sin(s$x / 15) + cos(s$y / 25) + sin(s$z / 3) + rnorm(n, 0, 0.2), 6)
t <- box(m)

az <- 30 * pi / 180
aniso_map <- function(p) data.frame(u = p$x * sin(az) + p$y * cos(az), w = (p$x * cos(az) - p$y * sin(az)) / 0.5,
                                    zz = p$z / 0.1)
sm <- cbind(aniso_map(s), v = s$v); tm <- aniso_map(t)
d2 <- outer(tm$u, sm$u, "-")^2 + outer(tm$w, sm$w, "-")^2 + outer(tm$zz, sm$zz, "-")^2
gap <- apply(sqrt(d2), 1, function(r) { r <- sort(r); r[33] - r[32] })
if (min(gap) < 1e-6) stop("a tie at the 32nd neighbour: change the seed")

sp_s <- s; coordinates(sp_s) <- ~x + y + z
sp_t <- t; coordinates(sp_t) <- ~x + y + z
sp_sm <- sm; coordinates(sp_sm) <- ~u + w + zz
sp_tm <- tm; coordinates(sp_tm) <- ~u + w + zz
iso <- vgm(1, "Sph", 60, 0.1)

check_a <- krige(v ~ 1, sp_s, sp_t, vgm(1, "Sph", 60, 0.1, anis = c(30, 0, 0, 0.5, 0.1)), debug.level = 0)
check_b <- krige(v ~ 1, sp_sm, sp_tm, iso, debug.level = 0)
if (max(abs(check_a$var1.pred - check_b$var1.pred), abs(check_a$var1.var - check_b$var1.var)) > 1e-10)
  stop("the explicit anisotropy mapping does not reproduce gstat's anis = c(30, 0, 0, 0.5, 0.1)")

g <- krige(v ~ 1, sp_s, sp_t, vgm(1, "Sph", 60, 0.1, anis = c(30, 10, 5, 0.5, 0.1)), debug.level = 0)
k <- krige(v ~ 1, sp_sm, sp_tm, iso, nmax = 32, debug.level = 0)
write.csv(s, "gstat3d_samples.csv", row.names = FALSE)
write.csv(data.frame(t, pred_global = g$var1.pred, var_global = g$var1.var,
                     pred_nmax32 = k$var1.pred, var_nmax32 = k$var1.var), "gstat3d_targets.csv", row.names = FALSE)
cat(sprintf("R %s, gstat %s, sp %s; smallest 32nd/33rd-neighbour gap %.4g m (anisotropic space)\n",
            getRversion(), packageVersion("gstat"), packageVersion("sp"), min(gap)))
