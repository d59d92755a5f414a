/** @odoo-module **/
// Live progress of a Chorus Pro run: the server pushes the counters through the bus
// ("chorus_pro_run_progress") and the form reloads the record when its run reports.
import { Component, onMounted, onWillUnmount } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

export class ChorusRunProgress extends Component {
    static template = "chorus_pro_liaison.ChorusRunProgress";
    static props = { ...standardFieldProps };

    setup() {
        this.busService = useService("bus_service");
        this.onProgress = (payload) => {
            if (payload && payload.run_id === this.props.record.resId && !this.props.record.dirty) {
                this.props.record.load();
            }
        };
        this.busService.subscribe("chorus_pro_run_progress", this.onProgress);
        this.busService.start();
        // Fallback when the bus is unavailable (proxy without websockets): poll while running.
        onMounted(() => {
            this.interval = setInterval(() => {
                if (this.running && !this.props.record.dirty) {
                    this.props.record.load();
                }
            }, 3000);
        });
        onWillUnmount(() => {
            clearInterval(this.interval);
            this.busService.unsubscribe("chorus_pro_run_progress", this.onProgress);
        });
    }

    get data() {
        return this.props.record.data;
    }

    get percent() {
        return Math.round(this.data[this.props.name] || 0);
    }

    get running() {
        return ["queued", "running"].includes(this.data.state);
    }
}

registry.category("fields").add("chorus_run_progress", {
    component: ChorusRunProgress,
    supportedTypes: ["float"],
});
