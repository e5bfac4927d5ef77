-- Device bindings change rarely, and the binding publisher used to find out by reading every
-- device of every gateway. Now a change to a gateway's devices stamps the gateway with the next
-- value of a one-row clock, and the publisher reads the clock, then only the gateways stamped
-- since. Ingest's updates of a device's last contact do not fire these triggers.
create table binding_clock (
    id integer primary key check (id = 1),
    n integer not null
);
insert into binding_clock (id, n) values (1, 0);
alter table gateways add column binding_n integer not null default 0;
create index gateways_binding_n on gateways (binding_n);

create trigger gateways_binding_stamp after insert on gateways begin
    update binding_clock set n = n + 1 where id = 1;
    update gateways set binding_n = (select n from binding_clock where id = 1) where gateway_id = new.gateway_id;
end;
create trigger devices_binding_stamp_insert after insert on devices begin
    update binding_clock set n = n + 1 where id = 1;
    update gateways set binding_n = (select n from binding_clock where id = 1) where gateway_id = new.gateway_id;
end;
create trigger devices_binding_stamp_delete after delete on devices begin
    update binding_clock set n = n + 1 where id = 1;
    update gateways set binding_n = (select n from binding_clock where id = 1) where gateway_id = old.gateway_id;
end;
create trigger devices_binding_stamp_update after update of device_id, gateway_id, kind, resident_id on devices begin
    update binding_clock set n = n + 1 where id = 1;
    update gateways set binding_n = (select n from binding_clock where id = 1)
        where gateway_id in (old.gateway_id, new.gateway_id);
end;
