"""Calendar items: dated events reused by issues and by the public calendar."""
