"""`run-sql --engine spark` as a file for spark-submit, which runs a Python file rather than a module:

    zip -r icp_core.zip icp_core
    spark-submit --master yarn --py-files icp_core.zip icp_core/spark_job.py \\
        --profile icp.json --table crm.accounts --target crm.icp_scores

The master is the one spark-submit was given; every other argument is run-sql's.
"""

import sys

from icp_core.__main__ import main
from icp_core.engines import SPARK_SUBMIT

if __name__ == "__main__":
    sys.exit(main(["run-sql", "--engine", "spark", "--spark-master", SPARK_SUBMIT, *sys.argv[1:]]))
