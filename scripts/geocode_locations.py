"""Place service delivery points that state a postcode at their postcode-district centroid (dry run unless --write).

    python -m scripts.geocode_locations [--write]
"""

import sys

from scripts.publication.domains.services import main

if __name__ == "__main__":
    sys.exit(main())
