/** @odoo-module **/
// A French user reads French (issue 14): the tours fail on any English string that was left
// on these screens, and on a refusal shown as a crash.
import { registry } from "@web/core/registry";

// English that a French user met on these screens.
const ENGLISH = [
    "Retrieval from Chorus Pro",
    "Queued",
    "Running",
    "background run",
    "The file is too large",
    "Service done",
    " new, ",
    "updated,",
    "Oops",
    "Traceback",
    "chorus.pro.",
];

function noEnglish() {
    const text = document.body.innerText;
    const found = ENGLISH.filter((english) => text.includes(english));
    if (found.length) {
        throw new Error(`English left for a French user: ${found.join(" | ")}`);
    }
}

function noThousandsSeparator(selector) {
    const identifiers = [...document.querySelectorAll(selector)]
        .map((element) => element.textContent.trim())
        .filter((text) => /\d/.test(text));
    if (!identifiers.length) {
        throw new Error(`No identifier ${selector} on the page to check`);
    }
    for (const identifier of identifiers) {
        if (/\d[\s\u00a0\u202f,.]\d{3}\b/.test(identifier)) {
            throw new Error(`Identifier shown with a thousands separator: ${identifier}`);
        }
    }
}

registry.category("web_tour.tours").add("chorus_pro_guard_refusal_tour", {
    steps: () => [
        {
            content: "Lancer la vérification with the link off",
            trigger: "button.o_chorus_launch_sync",
            run: "click",
        },
        {
            content: "A plain French dialog says why; no crash, no traceback",
            trigger: ".modal:contains('Chorus Pro : rien n'a été envoyé'):contains('est désactivée')",
            run() {
                const modal = document.querySelector(".modal");
                if (modal.querySelector(".o_error_detail, pre") || /Oups|Oops|Traceback/.test(modal.innerText)) {
                    throw new Error("The refusal is shown as a crash");
                }
                noEnglish();
            },
        },
        {
            content: "Close the dialog",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "Back on the Chorus Pro screen",
            trigger: "body:not(:has(.modal)) button.o_chorus_launch_sync",
        },
    ],
});

registry.category("web_tour.tours").add("chorus_pro_french_run_tour", {
    steps: () => [
        {
            content: "The scheduled run is named and summed up in French",
            trigger: ".o_form_view .o_field_widget[name='summary']:contains('nouvelle(s)')",
        },
        {
            content: "Its name is French",
            trigger: ".o_form_view .o_field_widget[name='name']:contains('Récupération depuis Chorus Pro')",
        },
        {
            content: "The chatter is loaded",
            trigger: ".o-mail-Chatter",
        },
        {
            content: "No English on the run's page; the Chorus ids of its messages without separators",
            trigger: ".o_form_view .o_field_widget[name='line_ids'] td[name='chorus_id']",
            run() {
                noEnglish();
                noThousandsSeparator(".o_field_widget[name='line_ids'] td[name='chorus_id']");
            },
        },
        {
            content: "The list of runs",
            trigger: ".o_breadcrumb .o_back_button a, .o_breadcrumb li.breadcrumb-item a",
            run: "click",
        },
        {
            content: "The runs are named in French",
            trigger: ".o_list_view .o_data_row:contains('Récupération depuis Chorus Pro')",
            run: () => noEnglish(),
        },
    ],
});

registry.category("web_tour.tours").add("chorus_pro_french_invoice_tour", {
    steps: () => [
        {
            content: "The chatter says Chorus Pro accepted Service fait, in French",
            trigger: ".o-mail-Message:contains('a accepté le statut Service fait')",
        },
        {
            content: "No English on the invoice's page; its identifiers without separators",
            trigger: ".o_form_view .o_field_widget[name='chorus_id']",
            run() {
                noEnglish();
                noThousandsSeparator(".o_field_widget[name='chorus_id'], .o_field_widget[name='supplier_chorus_id']");
            },
        },
    ],
});

registry.category("web_tour.tours").add("chorus_pro_french_mandater_tour", {
    steps: () => [
        {
            content: "The Mandater screen's breadcrumb reads Mandater, not the wizard's record name",
            trigger: ".o_breadcrumb:contains('Mandater')",
            run() {
                const crumbs = document.querySelector(".o_breadcrumb").innerText;
                if (/chorus\.pro\.|wizard|,\d/.test(crumbs)) {
                    throw new Error(`Breadcrumb shows a technical name: ${crumbs}`);
                }
                noEnglish();
            },
        },
    ],
});

registry.category("web_tour.tours").add("chorus_pro_french_mandate_tour", {
    steps: () => [
        {
            content: "The mandate's lines: their amounts (in labels and cells) with a decimal comma",
            trigger: ".o_field_widget[name='invoice_line_ids'] .o_data_row",
            run() {
                const rows = document.querySelectorAll(
                    ".o_field_widget[name='invoice_line_ids'] .o_data_row"
                );
                const text = [...rows].map((row) => row.innerText).join(" | ");
                if (/\d\.\d{2}\b/.test(text) || !/\d,\d{2}\b/.test(text)) {
                    throw new Error(`Mandate lines without a decimal comma: ${text}`);
                }
            },
        },
        {
            content: "Back to the list of mandates",
            trigger: ".o_breadcrumb li.breadcrumb-item a",
            run: "click",
        },
        {
            content: "The mandates are listed with positive amounts",
            trigger: ".o_list_view .o_data_row td[name='chorus_pro_mandate_total']",
            run() {
                const cells = document.querySelectorAll(
                    ".o_list_view .o_data_row td[name='chorus_pro_mandate_total'], " +
                    ".o_list_view .o_data_row td[name='chorus_pro_mandate_untaxed']"
                );
                for (const cell of cells) {
                    const text = cell.textContent.trim();
                    if (!/\d/.test(text) || /[-\u2212]/.test(text)) {
                        throw new Error(`Mandate amount not positive: ${text}`);
                    }
                }
                if (/\d\.\d{2}\b/.test(cells[0].textContent)) {
                    throw new Error(`Amount without a decimal comma: ${cells[0].textContent}`);
                }
            },
        },
    ],
});

registry.category("web_tour.tours").add("chorus_pro_french_not_ready_tour", {
    steps: () => [
        {
            content: "The invoice says it is not ready to mandate, in French",
            trigger: ".o_form_view .alert:contains('mandatée :')",
            run() {
                const alerts = [...document.querySelectorAll(".o_form_view .alert")].filter(
                    (alert) => /mandatée\s*:|mandated?\s*:/i.test(alert.innerText)
                );
                if (alerts.length !== 1) {
                    throw new Error(`${alerts.length} 'not ready to mandate' alerts: ` +
                        alerts.map((alert) => alert.innerText).join(" | "));
                }
                noEnglish();
            },
        },
    ],
});
