/** @odoo-module **/
// A refusal of the Chorus Pro guard (link off, account incomplete, password expired, RGS** key
// missing) is a UserError of its own class: shown as the plain message it is, not as a crash.
import { registry } from "@web/core/registry";
import { _t } from "@web/core/l10n/translation";
import { WarningDialog } from "@web/core/errors/error_dialogs";

export class ChorusRefusalDialog extends WarningDialog {
    inferTitle() {
        return _t("Chorus Pro: nothing was sent");
    }
}

registry
    .category("error_dialogs")
    .add("odoo.addons.chorus_pro_liaison.services.errors.ChorusGuardError", ChorusRefusalDialog);
