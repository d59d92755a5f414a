/** @odoo-module **/
// The "…" of the matching screen: the list of all partners opens over the screen and the one
// chosen comes back into it (the screen stays open: nothing typed or selected is lost).
import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { _t } from "@web/core/l10n/translation";
import { useOwnedDialogs, useService } from "@web/core/utils/hooks";
import { getFieldDomain } from "@web/model/relational_model/utils";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";
import { SelectCreateDialog } from "@web/views/view_dialogs/select_create_dialog";

export class ChorusPartnerPicker extends Component {
    static template = "chorus_pro_liaison.PartnerPicker";
    static props = { ...standardWidgetProps, field: { type: String } };

    setup() {
        this.addDialog = useOwnedDialogs();
        this.orm = useService("orm");
    }

    get domain() {
        // The partners the field itself accepts: its domain as the server defines it
        // (MATCHABLE_PARTNER_DOMAIN), evaluated on the screen's record (its company).
        return getFieldDomain(this.props.record, this.props.field);
    }

    open() {
        this.addDialog(SelectCreateDialog, {
            resModel: "res.partner",
            title: _t("Choose a partner"),
            domain: this.domain,
            multiSelect: false,
            noCreate: true,
            context: { search_default_supplier: 0 },
            onSelected: async ([partnerId]) => {
                const [partner] = await this.orm.read("res.partner", [partnerId], ["display_name"]);
                await this.props.record.update({
                    [this.props.field]: [partner.id, partner.display_name],
                });
            },
        });
    }
}

registry.category("view_widgets").add("chorus_pro_partner_picker", {
    component: ChorusPartnerPicker,
    extractProps: ({ options }) => ({ field: options.field || "partner_id" }),
});
