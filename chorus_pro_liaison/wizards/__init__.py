from . import chorus_pro_dashboard
from . import chorus_pro_structure_choice
from . import chorus_pro_processing_confirm
from . import chorus_pro_dashboard_processing
