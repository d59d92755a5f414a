/** @odoo-module **/
// Step 1 in the browser: the Chorus Pro screen, "Lancer la vérification", the run followed live
// until it is done, then the retrieved invoices.
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("chorus_pro_sync_tour", {
    url: "/odoo/action-chorus_pro_liaison.chorus_pro_dashboard_action",
    steps: () => [
        {
            content: "Nothing retrieved yet",
            trigger: ".o_chorus_to_process:contains('0')",
        },
        {
            content: "Lancer la vérification",
            trigger: "button.o_chorus_launch_sync",
            run: "click",
        },
        {
            content: "The run page opens and follows the background retrieval",
            trigger: ".o_chorus_run_progress",
        },
        {
            content: "The retrieval ends (followed without reloading the page)",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Done')",
            timeout: 60000,
        },
        {
            content: "Open the retrieved invoices",
            trigger: "button[name='action_open_invoices']",
            run: "click",
        },
        {
            content: "The invoices appear, with their suppliers",
            trigger: ".o_list_view .o_data_row .o_data_cell[name='supplier_name']:not(:empty)",
        },
    ],
});
