from . import chorus_pro_dashboard
from . import chorus_pro_structure_choice
