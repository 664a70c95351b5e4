// The translator's seedable generator as a RandomNumberGenerator, so tests can drive `random(in:using:)` from a
// seed and a failure reproduces.
import NAT64Translator

extension SplitMix64: RandomNumberGenerator {}
