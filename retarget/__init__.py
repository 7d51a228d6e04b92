"""Human joints to robot joints: robot registry, Pinocchio IK, filters, teleop adapters."""
