from . import test_account
from . import test_rgs_key
from . import test_sync
from . import test_sync_kill
from . import test_tour_configuration
from . import test_tour_sync
from . import test_processing
from . import test_tour_processing
