"""``callcenter city …``: send a signed test order as a partner would (the simulated upstream)."""

from __future__ import annotations

import json
import uuid

import typer


def register(app: typer.Typer) -> None:
    city = typer.Typer(help="市级派单: orders pushed by the city 12345 platform")
    app.add_typer(city, name="city")

    @city.command("send-order")
    def send_order(
        description: str = typer.Argument(..., help="诉求内容"),
        partner: str = typer.Option(..., help="partner name (intake.city_partners)"),
        url: str = typer.Option("http://127.0.0.1:8000", help="the center's API"),
        order_id: str = typer.Option("", help="upstream order id (default: a new one)"),
        deadline: str = typer.Option("", help="ISO 8601 deadline with time zone"),
    ) -> None:
        """Push one order, signed with the partner's key from the settings, and print the answer."""
        from callcenter.config import get_settings
        from callcenter.plugins.citydispatch.simulator import Upstream

        settings = get_settings()
        p = settings.intake.city_partners.get(partner)
        if p is None:
            raise typer.BadParameter(f"unknown partner {partner!r} (intake.city_partners)")
        body: dict[str, object] = {
            "order_id": order_id or f"SIM-{uuid.uuid4().hex[:12]}",
            "description": description,
        }
        if deadline:
            body["deadline"] = deadline
        r = Upstream(url, partner, p.key).send_order(body)
        typer.echo(f"{r.status_code} {json.dumps(r.json(), ensure_ascii=False)}")
        raise typer.Exit(0 if r.status_code < 400 else 1)

    @city.command("partner-sim")
    def partner_sim(
        partner: str = typer.Option(
            ..., help="partner name (intake.city_partners): its key checks signatures"
        ),
        port: int = typer.Option(
            8701, help="port of the simulated callback URL (http://127.0.0.1:PORT/callback)"
        ),
    ) -> None:
        """Run the simulated partner's callback endpoint and print each push-back as it arrives."""
        import time

        from callcenter.config import get_settings
        from callcenter.plugins.citydispatch.simulator import CallbackReceiver

        p = get_settings().intake.city_partners.get(partner)
        if p is None:
            raise typer.BadParameter(f"unknown partner {partner!r} (intake.city_partners)")
        receiver = CallbackReceiver(p.key, port)
        receiver.start()
        typer.echo(f"listening on {receiver.url} (Ctrl-C to stop)")
        shown = 0
        try:
            while True:
                while shown < len(receiver.received):
                    item = receiver.received[shown]
                    typer.echo(
                        f"{item['order_id']} #{item['seq']} {item['action_label']} → {item['status_label']}"
                    )
                    shown += 1
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            receiver.stop()
