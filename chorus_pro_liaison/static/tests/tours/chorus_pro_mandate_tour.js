/** @odoo-module **/
// "Mandater" on two invoices from the mandating screen, then the resulting mandate with its PDF
// and the Mandatée push sent to Chorus Pro. The Python test prepares the invoices through the
// real steps 2 and 3 (Service fait pushed, supplier matched, IBAN trusted), and checks the
// mandates and what the simulator received.
import { registry } from "@web/core/registry";

const READY = ".o_field_widget[name='ready_line_ids']";

registry.category("web_tour.tours").add("chorus_pro_mandate_tour", {
    url: "/odoo/action-chorus_pro_liaison.chorus_pro_mandate_wizard_action",
    steps: () => [
        {
            content: "The screen lists the invoices ready to mandate",
            trigger: `${READY} .o_data_row:nth-child(2)`,
        },
        {
            content: "Start from an empty selection",
            trigger: "button[name='action_select_none']",
            run: "click",
        },
        {
            content: "Nothing selected any more",
            trigger: "body:not(:has(button[name='action_mandate']))",
        },
        {
            content: "Select the first invoice",
            trigger: `${READY} .o_data_row:nth-child(1) .o_field_widget[name='selected'] input`,
            run: "click",
        },
        {
            content: "Select the second invoice",
            trigger: `${READY} .o_data_row:nth-child(2) .o_field_widget[name='selected'] input`,
            run: "click",
        },
        {
            content: "Two invoices selected",
            trigger: ".o_field_widget[name='selected_count']:contains('2')",
        },
        {
            content: "Choose the budget article",
            trigger: ".o_field_widget[name='article_id'] input",
            run: "edit 6042",
        },
        {
            content: "Pick article 6042",
            trigger: ".o-autocomplete--dropdown-item:contains('6042')",
            run: "click",
        },
        {
            content: "Mandater",
            trigger: "button[name='action_mandate']",
            run: "click",
        },
        {
            content: "The two mandates are listed",
            trigger: ".o_list_view .o_data_row:nth-child(2) .o_data_cell[name='chorus_pro_mandate_number']",
        },
        {
            content: "Open the first mandate",
            trigger: ".o_list_view .o_data_row:nth-child(1) .o_data_cell[name='partner_id']",
            run: "click",
        },
        {
            content: "It links back to the Chorus Pro invoice",
            trigger: ".o_form_view button.o_chorus_pro_invoice_button",
        },
        {
            content: "Open the mandate tab",
            trigger: ".o_notebook .nav-link[name='chorus_pro_mandate']",
            run: "click",
        },
        {
            content: "The mandate has its number",
            trigger: ".o_field_widget[name='chorus_pro_mandate_number'] span:not(:empty)",
        },
        {
            content: "The invoice PDF is its main document",
            trigger: ".o_chorus_pro_invoice_pdf:contains('.pdf')",
        },
        {
            content: "Chorus Pro accepted Mandatée: the push is shown and linked",
            trigger: ".o_field_widget[name='chorus_pro_push_state']:contains('Accepted')",
        },
        {
            content: "Open the push sent to Chorus Pro",
            trigger: ".o_field_widget[name='chorus_pro_push_id'] a:contains('Mandated')",
            run: "click",
        },
        {
            content: "The push shows the mandate number sent",
            trigger: ".o_form_view .o_field_widget[name='mandate_number']:not(:empty)",
        },
    ],
});
