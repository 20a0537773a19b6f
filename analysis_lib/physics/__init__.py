"""Physics models as pure functions: WIMP and CEvNS recoil spectra, neutrino flux, response.

- :mod:`.nuclei` — target nuclei (A, Z, N, mass) and the Helm form factor;
- :mod:`.wimp` — WIMP–nucleus recoil spectra in the standard halo model (Lewin & Smith 1996);
- :mod:`.cevns` — the CEvNS cross section (Freedman 1974) and the SNS π-DAR neutrino flux;
- :mod:`.response` — detector response hooks: quenching, resolution, threshold efficiency.

Units are in the names: energies in keV (recoil) or MeV (neutrino), masses in GeV/c²,
cross sections in cm², rates per kg per day per keV.
"""

from .nuclei import NUCLEI, Nucleus, helm_form_factor, nucleus

__all__ = ["NUCLEI", "Nucleus", "helm_form_factor", "nucleus"]
