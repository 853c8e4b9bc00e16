# SPDX-License-Identifier: Apache-2.0
from safecity.cli import main

main()
