from . import chorus_pro_dashboard
from . import chorus_pro_structure_choice
from . import chorus_pro_mandate_wizard
from . import chorus_pro_dashboard_mandate
