/** @odoo-module **/
// The processing screen: an editable list of invoices where, under each line with a decision,
// a second row unfolds with the usual-motif picker, the motif and the service-done date, and
// what the decision means for the supplier.
import { registry } from "@web/core/registry";
import { listView } from "@web/views/list/list_view";
import { ListRenderer } from "@web/views/list/list_renderer";

const DETAIL_FIELDS = ["decision_motif_id", "decision_motif", "service_done_date"];

export class ChorusWorklistRenderer extends ListRenderer {
    static recordRowTemplate = "chorus_pro_liaison.WorklistRecordRow";

    get detailColumns() {
        return this.props.archInfo.columns.filter(
            (column) => column.type === "field" && DETAIL_FIELDS.includes(column.name)
        );
    }

    hasDetail(record) {
        return Boolean(record.data.decision_status) || ["pending", "refused"].includes(record.data.push_state);
    }

    showDetailField(column, record) {
        if (!record.data.decision_status) {
            return false;
        }
        if (column.name === "service_done_date") {
            return record.data.decision_status === "SERVICE_FAIT";
        }
        return true;
    }

    isDetailReadonly(record) {
        return !record.isInEdition || this.isRecordReadonly(record);
    }

    detailAlertClass(record) {
        return ["REJETEE", "A_RECYCLER"].includes(record.data.decision_status)
            ? "alert-warning"
            : "alert-info";
    }

    async onDetailClick(record) {
        if (record.isInEdition || !this.isInlineEditable(record)) {
            return;
        }
        await this.props.list.enterEditMode(record);
    }

    onGlobalClick(ev) {
        // The unfolded row belongs to the line above it: clicking there keeps it in edition.
        if (ev.target.closest(".o_chorus_detail_row")) {
            return;
        }
        return super.onGlobalClick(ev);
    }
}

export const chorusWorklistView = {
    ...listView,
    Renderer: ChorusWorklistRenderer,
};

registry.category("views").add("chorus_pro_worklist", chorusWorklistView);
