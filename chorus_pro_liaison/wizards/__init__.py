from . import chorus_pro_invoice_screen
from . import chorus_pro_dashboard
from . import chorus_pro_structure_choice
from . import chorus_pro_processing_confirm
from . import chorus_pro_supplier_match
from . import chorus_pro_partner_history
from . import chorus_pro_bank_confirm
from . import chorus_pro_mandate_wizard
