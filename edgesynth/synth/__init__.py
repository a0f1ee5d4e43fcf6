"""Synthesize anomalies: the stage between ``edgesynth.data`` and ``edgesynth.detect``.

Import the submodules; importing this package imports nothing heavy (TensorFlow is only loaded by
:mod:`~edgesynth.synth.vae` and :mod:`~edgesynth.synth.gan`):

* :mod:`~edgesynth.synth.inject` — physical anomaly injection into normal windows (no real
  anomaly needed): spikes, level shifts, drift, bearing impulses, ECG morphology changes...
* :mod:`~edgesynth.synth.augment` — classic augmentation for both classes.
* :mod:`~edgesynth.synth.vae` — :class:`ConditionalVAE` (conditional on class / anomaly type,
  latent-tail sampling when no anomaly is known).
* :mod:`~edgesynth.synth.gan` — :class:`TimeSeriesWGAN` (conditional WGAN-GP, early stop on MMD).
* :mod:`~edgesynth.synth.quality` — discriminative score, TSTR, MMD, memorisation, marginal and
  spectral distances, report files.
* :mod:`~edgesynth.synth.generate` — ``synthesize``, ``choose_strategy``, ``run_synth`` (the
  ``edgesynth synth`` command).
"""
