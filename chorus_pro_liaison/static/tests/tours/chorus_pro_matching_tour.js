/** @odoo-module **/
// "Valider les tiers" on a received invoice: the IBAN candidate is clicked, its history checked,
// then the match confirmed. Data prepared by tests/test_tour_matching.py.
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("chorus_pro_matching_tour", {
    steps: () => [
        {
            content: "The invoice is not matched: open the matching screen",
            trigger: "button.o_chorus_open_match",
            run: "click",
        },
        {
            content: "The supplier as Chorus Pro knows it is on the left",
            trigger: ".modal .o_chorus_match_chorus_side .o_field_widget[name='supplier_identifier']",
        },
        {
            content: "Click the candidate proposed for holding the same IBAN",
            trigger: ".modal .o_chorus_match_candidates .o_data_row:contains('Same IBAN') .o_chorus_select_candidate",
            run: "click",
        },
        {
            content: "The partner name is filled",
            trigger: ".modal .o_chorus_match_partner input:value('Compte connu SARL')",
        },
        {
            content: "The national identifier is filled",
            trigger: ".modal .o_chorus_match_partner_identifier:not(:empty)",
        },
        {
            content: "Open the history of the selected partner",
            trigger: ".modal .o_chorus_match_history",
            run: "click",
        },
        {
            content: "Its past Chorus Pro invoices are listed",
            trigger: ".modal .o_chorus_partner_history .o_data_row:contains('HIST-0001')",
        },
        {
            content: "Back to the matching screen",
            trigger: ".modal .o_chorus_history_back",
            run: "click",
        },
        {
            content: "The selected partner is kept; confirm",
            trigger: ".modal .o_chorus_match_partner input:value('Compte connu SARL')",
        },
        {
            trigger: ".modal .o_chorus_match_confirm",
            run: "click",
        },
        {
            content: "The invoice now shows its partner",
            trigger: "body:not(:has(.modal)) .o_form_view .o_field_widget[name='partner_id']:contains('Compte connu SARL')",
        },
    ],
});
