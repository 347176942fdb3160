"""What the VRU build and the VRU pages agree on."""

SUPPRESSION_THRESHOLD = 10


