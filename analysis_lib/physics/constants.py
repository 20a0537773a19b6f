"""Physical constants used by the models (CODATA 2018 / PDG 2024), in the units named."""

HBARC_GEV_FM = 0.1973269804  # ħc in GeV·fm
HBARC2_GEV2_CM2 = 0.3893793721e-27  # (ħc)² in GeV²·cm²
AMU_GEV = 0.93149410242  # atomic mass unit in GeV/c²
C_KM_S = 299_792.458  # speed of light, km/s
C_CM_S = 2.99792458e10  # speed of light, cm/s
GEV_PER_KG = 5.60958860e26  # 1 kg in GeV/c²
SECONDS_PER_DAY = 86_400.0
G_FERMI_GEV2 = 1.1663788e-5  # Fermi constant G_F/(ħc)³ in GeV⁻²
SIN2_THETA_W = 0.23857  # weak mixing angle, MS-bar at Q → 0 (PDG 2024, electroweak review)
MUON_MASS_MEV = 105.6583755
PION_MASS_MEV = 139.57039
MUON_LIFETIME_US = 2.1969811
PION_LIFETIME_US = 0.026033
