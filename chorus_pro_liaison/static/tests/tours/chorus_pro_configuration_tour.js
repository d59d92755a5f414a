/** @odoo-module **/
// Opens the Chorus Pro configuration, fills the technical account and runs the connection test
// against the local simulator started by the Python test (default simulator credentials).
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("chorus_pro_configuration_tour", {
    url: "/odoo/action-chorus_pro_liaison.chorus_pro_account_action",
    steps: () => [
        {
            content: "Open the company's Chorus Pro account",
            trigger: ".o_list_view .o_data_row .o_data_cell[name='environment']",
            run: "click",
        },
        {
            content: "Type the technical account login",
            trigger: ".o_field_widget[name='technical_login'] input",
            run: "edit TECH_1_simulateur@cpro.fr",
        },
        {
            content: "Type the technical account password",
            trigger: ".o_field_widget[name='technical_password'] input",
            run: "edit Simulateur-2026!",
        },
        {
            content: "Run the connection test (saves the form first)",
            trigger: "button[name='action_test_connection']",
            run: "click",
        },
        {
            content: "Chorus Pro accepted the technical account",
            trigger: ".o_notification:has(.o_notification_bar.bg-success) .o_notification_content:contains('Technical account: accepted')",
        },
        {
            content: "The password is not shown back, only that it is set",
            trigger: ".o_field_widget[name='technical_password_set'] input:checked",
        },
        {
            content: "The services were loaded",
            trigger: ".o_field_widget[name='service_ids'] .o_data_row:contains('SERV_TECH')",
        },
    ],
});
