from . import test_account
from . import test_sync
from . import test_tour_configuration
from . import test_mandate
from . import test_mandate_dgp
from . import test_mandate_bordereau
from . import test_tour_mandate
