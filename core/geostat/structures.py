"""Structure codes of the variogram models, shared by the model classes and the compiled kriging kernel."""

#: evaluated with numpy; the kernel gets it as part of a table (:data:`TABULATED`)
NOT_COMPILED = -1
NUGGET = 0  # handled apart from the structures (the model's nugget)
SPHERICAL = 1
EXPONENTIAL = 2
GAUSSIAN = 3
POWER = 4
#: the sum of the structures without a closed form in the kernel, tabulated over the distances
TABULATED = 5
#: structures given by a partial sill and a range (the kernel evaluates them in closed form)
RANGED = (SPHERICAL, EXPONENTIAL, GAUSSIAN)
