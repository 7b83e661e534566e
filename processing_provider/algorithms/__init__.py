"""One Processing algorithm per module; the provider discovers RemineAlgorithm subclasses here."""
